/**
 * The conf service behind `laggkit conf get|set|unset`: read every file of a kind, compute the
 * effective value, plan an edit as new file contents, and then either show the plan as a
 * unified diff (dry run) or write each changed file atomically with a backup, re-read it and
 * verify that it holds exactly what was planned and that the effective value is the one asked.
 * An edit that changes nothing writes nothing and makes no backup.
 */
import { createTwoFilesPatch } from 'diff';
import { LaggkitError, UsageError } from '../cli/errors.js';
import { validateAbsPath } from '../validate/index.js';
import type { ConfFiles } from './files.js';
import { confKind, type ConfKind } from './kinds.js';
import { assignmentsOf, listAdd, listRemove, parseShVars, printShVars, setShVar, unsetShVar, type ShFile } from './shvars.js';
import { addWordLine, linesOf, parseWordLines, printWordLines, removeWordLines, setWordLine, type WordFile } from './wordlines.js';

export type ListOp = 'add' | 'remove';

export interface ConfRequest {
  kind: string;
  key: string;
  /** Required for set; for unset of ifconfig/modules lines, restricts removal to that value. */
  value?: string;
  /** Treat the value as one element of a list (cloned_interfaces, kld_list, laggport lines). */
  list?: ListOp;
  /**
   * For set on loader/rc: the file to write, e.g. /boot/loader.conf.d/laggkit.conf (created if
   * absent). Default: the file holding the effective assignment, else loader.conf / rc.conf.
   */
  file?: string;
  dryRun?: boolean;
}

export interface Origin {
  path: string;
  line: number;
}

export interface ConfValue {
  kind: string;
  key: string;
  /** The effective value (last assignment; last line for ifconfig/modules), or null. */
  value: string | null;
  /** Every value in effect order: all lines of the key for ifconfig/modules. */
  values: string[];
  /** Where the value comes from. */
  origins: Origin[];
  where: string;
}

export interface FileChange {
  path: string;
  diff: string;
  backupPath: string | null;
}

export interface ConfEditResult {
  kind: string;
  key: string;
  op: 'set' | 'unset';
  list: ListOp | null;
  changed: boolean;
  dryRun: boolean;
  previous: string | null;
  value: string | null;
  files: FileChange[];
  where: string;
}

type Doc = { format: 'shvars'; doc: ShFile; text: string } | { format: 'words'; doc: WordFile; text: string };

function parse(kind: ConfKind, path: string, text: string): Doc {
  return kind.format === 'shvars' ? { format: 'shvars', doc: parseShVars(text, path), text } : { format: 'words', doc: parseWordLines(text, path), text };
}

function print(d: Doc): string {
  return d.format === 'shvars' ? printShVars(d.doc) : printWordLines(d.doc);
}

async function readAll(fs: ConfFiles, kind: ConfKind): Promise<Map<string, Doc | null>> {
  const docs = new Map<string, Doc | null>();
  for (const path of await kind.files(fs)) {
    const text = await fs.read(path);
    // Parse errors name the file as the operator sees it.
    docs.set(path, text === null ? null : parse(kind, fs.display(path), text));
  }
  return docs;
}

function effective(kind: ConfKind, key: string, docs: Map<string, Doc | null>, where: string, display: (p: string) => string): ConfValue {
  const values: string[] = [];
  const origins: Origin[] = [];
  for (const [path, d] of docs) {
    if (!d) continue;
    if (d.format === 'shvars') {
      for (const l of assignmentsOf(d.doc, key)) {
        values.push(l.assign?.value ?? '');
        origins.push({ path: display(path), line: l.lineNo });
      }
    } else {
      for (const l of linesOf(d.doc, key)) {
        values.push(l.value ?? '');
        origins.push({ path: display(path), line: l.lineNo });
      }
    }
  }
  if (kind.format === 'shvars') {
    // sysrc semantics: only the last assignment counts.
    const last = values.length - 1;
    return {
      kind: kind.name,
      key,
      value: last >= 0 ? (values[last] as string) : null,
      values: last >= 0 ? [values[last] as string] : [],
      origins: last >= 0 ? [origins[last] as Origin] : [],
      where,
    };
  }
  return { kind: kind.name, key, value: values.length ? (values[values.length - 1] as string) : null, values, origins, where };
}

export async function confGet(fs: ConfFiles, kindSpec: string, key: string): Promise<ConfValue> {
  const kind = confKind(kindSpec);
  kind.validateKey(key);
  return effective(kind, key, await readAll(fs, kind), fs.where, (p) => fs.display(p));
}

/** Validate a request fully, before any file is read or host contacted. */
export function validateRequest(op: 'set' | 'unset', req: ConfRequest): ConfKind {
  const kind = confKind(req.kind);
  kind.validateKey(req.key);
  if (op === 'set' && req.value === undefined && kind.format === 'shvars') {
    throw new UsageError('E_USAGE', `conf set ${req.kind} ${req.key} needs a VALUE`, `Example: laggkit conf set ${req.kind} ${req.key} VALUE --root /`);
  }
  if (req.list && req.value === undefined) {
    throw new UsageError('E_USAGE', `--${req.list} needs the element as VALUE`, `Example: laggkit conf set rc cloned_interfaces laggkit0 --${req.list}`);
  }
  if (req.value !== undefined) {
    if (req.list && kind.format === 'shvars') kind.validateElement(req.value);
    else kind.validateValue(req.value);
  }
  if (req.file !== undefined && !kind.isTargetFile(validateAbsPath(req.file, '--file'))) {
    throw new UsageError(
      'E_BAD_PATH',
      `--file ${JSON.stringify(req.file)} is not a ${kind.name} file`,
      kind.name === 'loader'
        ? 'Use /boot/loader.conf, /boot/loader.conf.local or /boot/loader.conf.d/NAME.conf.'
        : kind.name === 'rc'
          ? 'Use /etc/rc.conf or /etc/rc.conf.local.'
          : `${kind.name} has one file: ${kind.mainFile}.`,
    );
  }
  return kind;
}

/**
 * A list written as `kld_list="${kld_list} if_lagg"` has no literal value to add to: rewriting
 * it would freeze or break the expansion, so laggkit refuses and says where it is.
 */
function refuseExpandingList(docs: Map<string, Doc | null>, key: string): void {
  let last: { path: string; line: number } | undefined;
  let expands = false;
  for (const [, d] of docs) {
    if (d?.format !== 'shvars') continue;
    for (const l of assignmentsOf(d.doc, key)) {
      last = { path: d.doc.path, line: l.lineNo };
      expands = l.assign?.expands ?? false;
    }
  }
  if (last && expands) {
    throw new UsageError(
      'E_CONF_EXPANSION',
      `${key} at ${last.path}:${last.line} uses shell expansion ($ or \`), so laggkit cannot add to or remove from it`,
      `Edit that line by hand, or set the whole value: laggkit conf set ... ${key} "VALUE"`,
    );
  }
}

/** Plan the new text of each file; returns only files whose text changes. */
function plan(
  op: 'set' | 'unset',
  kind: ConfKind,
  req: ConfRequest,
  docs: Map<string, Doc | null>,
  current: ConfValue,
): { next: Map<string, Doc>; expect: (v: ConfValue) => boolean; wanted: string | null } {
  const next = new Map<string, Doc>();
  const value = req.value === undefined ? '' : kind.format === 'words' && !req.list ? kind.validateValue(req.value) : req.value;
  const docOf = (path: string): Doc => docs.get(path) ?? parse(kind, path, '');
  if (kind.format === 'shvars') {
    if (req.list) refuseExpandingList(docs, req.key);
    let wanted: string | null;
    if (op === 'unset' && !req.list) wanted = null;
    else if (req.list === 'add') wanted = listAdd(current.value ?? '', value);
    else if (req.list === 'remove') wanted = current.value === null ? null : listRemove(current.value, value);
    else wanted = value;
    if (wanted === current.value) return { next, expect: (v) => v.value === wanted, wanted };
    if (wanted === null) {
      for (const [path, d] of docs) {
        if (d?.format !== 'shvars') continue;
        const doc = unsetShVar(d.doc, req.key);
        if (doc !== d.doc) next.set(path, { ...d, doc });
      }
      return { next, expect: (v) => v.value === null, wanted };
    }
    // Edit where the effective assignment lives (sysrc does the same), else the main file.
    let target = kind.mainFile;
    for (const [path, d] of docs) if (d?.format === 'shvars' && assignmentsOf(d.doc, req.key).length > 0) target = path;
    if (req.file !== undefined) target = req.file;
    const d = docOf(target);
    if (d.format === 'shvars') next.set(target, { ...d, doc: setShVar(d.doc, req.key, wanted) });
    const w = wanted;
    return { next, expect: (v) => v.value === w, wanted };
  }
  const d = docOf(kind.mainFile);
  if (d.format !== 'words') throw new Error('unreachable');
  let doc = d.doc;
  let expect: (v: ConfValue) => boolean;
  let wanted: string | null;
  if (op === 'set' && req.list !== 'remove') {
    doc = req.list === 'add' ? addWordLine(doc, req.key, value) : setWordLine(doc, req.key, value);
    expect = req.list === 'add' ? (v) => v.values.includes(value) : (v) => v.values.length === 1 && v.values[0] === value;
    wanted = value;
  } else {
    const only = req.value === undefined ? undefined : value;
    doc = removeWordLines(doc, req.key, only);
    expect = (v) => (only === undefined ? v.values.length === 0 : !v.values.includes(only));
    wanted = null;
  }
  if (doc !== d.doc) next.set(kind.mainFile, { ...d, doc });
  return { next, expect, wanted };
}

export async function confEdit(fs: ConfFiles, op: 'set' | 'unset', req: ConfRequest): Promise<ConfEditResult> {
  const kind = validateRequest(op, req);
  const docs = await readAll(fs, kind);
  const display = (p: string) => fs.display(p);
  const current = effective(kind, req.key, docs, fs.where, display);
  const { next, expect } = plan(op, kind, req, docs, current);
  const files: FileChange[] = [];
  for (const [path, d] of next) {
    const before = docs.get(path)?.text ?? '';
    const after = print(d);
    if (after === before) {
      next.delete(path);
      continue;
    }
    files.push({ path: display(path), diff: createTwoFilesPatch(display(path), display(path), before, after, 'current', 'laggkit'), backupPath: null });
  }
  // Predict the outcome before touching anything: an assignment in a later file (say
  // loader.conf.local) would override the one written, and a write that cannot take effect is
  // refused rather than made and then reported as failed.
  const predicted = new Map(docs);
  for (const [p, d] of next) predicted.set(p, d);
  const outcome = effective(kind, req.key, predicted, fs.where, display);
  if (files.length > 0 && !expect(outcome)) {
    const by = outcome.origins[outcome.origins.length - 1];
    throw new UsageError(
      'E_CONF_SHADOWED',
      `Writing ${files.map((f) => f.path).join(', ')} would not change ${kind.name} ${req.key}: ${by ? `${by.path}:${by.line}` : 'another file'} sets it to ${JSON.stringify(outcome.value)} later`,
      'Edit that file instead (--file), or unset the overriding assignment first.',
    );
  }
  const result: ConfEditResult = {
    kind: kind.name,
    key: req.key,
    op,
    list: req.list ?? null,
    changed: files.length > 0,
    dryRun: req.dryRun ?? false,
    previous: current.value,
    value: current.value,
    files,
    where: fs.where,
  };
  if (files.length === 0 || req.dryRun) {
    if (req.dryRun) result.value = outcome.value;
    return result;
  }
  // Several files may change (unset across loader.conf and its drop-ins): if one write fails,
  // the ones already written are put back so the edit is all or nothing.
  const written: [string, string][] = [];
  let i = 0;
  try {
    for (const [path, d] of next) {
      const { backupPath } = await fs.write(path, print(d));
      written.push([path, docs.get(path)?.text ?? '']);
      (files[i++] as FileChange).backupPath = backupPath;
    }
  } catch (err) {
    for (const [path, text] of written.reverse()) await fs.write(path, text).catch(() => {});
    throw err;
  }
  // Re-read and verify: exactly the planned bytes, and the effective value asked for.
  const reread = await readAll(fs, kind);
  for (const [path, d] of next) {
    const got = reread.get(path);
    if (!got || got.text !== print(d)) {
      throw new LaggkitError(
        'remote',
        'E_CONF_VERIFY',
        `${display(path)} does not hold what was written (changed by someone else meanwhile?)`,
        'Compare it with the backup file and retry.',
      );
    }
  }
  const after = effective(kind, req.key, reread, fs.where, display);
  if (!expect(after)) {
    throw new LaggkitError(
      'remote',
      'E_CONF_VERIFY',
      `After writing, ${kind.name} ${req.key} is ${JSON.stringify(after.value)}, not what was asked`,
      'Another file of the same kind may override it; see laggkit conf get.',
    );
  }
  result.value = after.value;
  return result;
}
