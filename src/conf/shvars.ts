/**
 * Lossless model of shell-variable files: FreeBSD rc.conf (and rc.conf.local) and loader.conf
 * (and loader.conf.d/*.conf, loader.conf.local). Both are lists of `name=value` assignments with
 * "double", 'single' or bare values, trailing comments, blank lines and comments.
 *
 * Every line keeps its original bytes; an edit rebuilds only the value part of the lines it
 * touches, keeping the name, the quoting style where possible and the trailing comment. Lines
 * that are not simple assignments (shell code, `if` blocks...) are kept verbatim and ignored,
 * as sysrc(8) would not edit them either. An unterminated quote is a ParseError naming the file
 * and line: nothing is written from a file we did not understand.
 */
import { ParseError } from '../cli/errors.js';
import { appendLines, joinLines, keepFinalEol, splitLines, type RawLine } from './lines.js';

export type QuoteStyle = '"' | "'" | '';

export interface Assignment {
  key: string;
  /** The value after sh unquoting. */
  value: string;
  quote: QuoteStyle;
  /** Bytes before the value (indent, optional `export `, name, '='). */
  head: string;
  /** Bytes after the value (spaces, `# comment`, `;`). */
  tail: string;
  /** The double-quoted value uses $ or ` expansion: its text is not its runtime value. */
  expands: boolean;
}

export interface ShLine extends RawLine {
  /** 1-based number of the line's first physical line in its file. */
  lineNo: number;
  assign?: Assignment;
}

export interface ShFile {
  path: string;
  lines: ShLine[];
}

const ASSIGN_HEAD = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)=/;

/** Read a quoted or bare value starting at `s[i]`; returns the value and the index after it. */
function readValue(s: string, i: number): { value: string; quote: QuoteStyle; end: number; expands: boolean } | { unterminated: QuoteStyle } {
  const q = s[i];
  if (q === '"') {
    let v = '';
    let expands = false;
    for (let j = i + 1; j < s.length; j++) {
      const c = s[j];
      if (c === '\\' && j + 1 < s.length) {
        const n = s[j + 1] as string;
        if (n === '\n') {
          j++;
          continue;
        }
        v += '"\\$`'.includes(n) ? n : `\\${n}`;
        j++;
      } else if (c === '"') {
        return { value: v, quote: '"', end: j + 1, expands };
      } else {
        if (c === '$' || c === '`') expands = true;
        v += c;
      }
    }
    return { unterminated: '"' };
  }
  if (q === "'") {
    const close = s.indexOf("'", i + 1);
    if (close < 0) return { unterminated: "'" };
    return { value: s.slice(i + 1, close), quote: "'", end: close + 1, expands: false };
  }
  const m = /^[^\s#;"'`$\\()|&<>]*/.exec(s.slice(i));
  const raw = m?.[0] ?? '';
  return { value: raw, quote: '', end: i + raw.length, expands: false };
}

/** Parse one logical line (quoted values may continue over several physical lines). */
function parseAssignment(text: string): Assignment | 'unterminated' | null {
  const m = ASSIGN_HEAD.exec(text);
  if (!m || m[2] === undefined) return null;
  const r = readValue(text, m[0].length);
  if ('unterminated' in r) return 'unterminated';
  const tail = text.slice(r.end);
  // Only `value`, optional spaces, optional `;`, optional comment: anything else is shell code.
  if (!/^\s*;?\s*(#.*)?$/s.test(tail)) return null;
  return { key: m[2], value: r.value, quote: r.quote, head: m[0], tail, expands: r.expands };
}

export function parseShVars(content: string, path: string): ShFile {
  const raw = splitLines(content);
  const lines: ShLine[] = [];
  for (let i = 0; i < raw.length; i++) {
    const first = raw[i] as RawLine;
    let text = first.text;
    let eol = first.eol;
    const lineNo = i + 1;
    let a = parseAssignment(text);
    // A quoted value may span lines (valid sh): join until it closes, or fail at EOF.
    while (a === 'unterminated' && i + 1 < raw.length) {
      const next = raw[++i] as RawLine;
      text = `${text}${eol}${next.text}`;
      eol = next.eol;
      a = parseAssignment(text);
    }
    if (a === 'unterminated') {
      throw new ParseError(
        'E_CONF_PARSE',
        `${path}:${lineNo}: unterminated quote in ${JSON.stringify(first.text)}`,
        lineNo,
        'Fix the quoting on that line by hand; laggkit does not edit a file it cannot parse.',
      );
    }
    lines.push(a ? { text, eol, lineNo, assign: a } : { text, eol, lineNo });
  }
  return { path, lines };
}

export function printShVars(file: ShFile): string {
  return joinLines(file.lines);
}

/** The assignments of `key`, in file order. */
export function assignmentsOf(file: ShFile, key: string): ShLine[] {
  return file.lines.filter((l) => l.assign?.key === key);
}

/** Quote a value for sh, keeping `prefer` when it can represent the value. */
export function quoteShValue(value: string, prefer: QuoteStyle): { text: string; quote: QuoteStyle } {
  if (prefer === '' && /^[A-Za-z0-9_.,:/@%+=-]+$/.test(value)) return { text: value, quote: '' };
  if (prefer === "'" && !value.includes("'")) return { text: `'${value}'`, quote: "'" };
  return { text: `"${value.replace(/["\\$`]/g, (c) => `\\${c}`)}"`, quote: '"' };
}

function rebuild(line: ShLine, value: string): ShLine {
  const a = line.assign as Assignment;
  const q = quoteShValue(value, a.quote);
  return { ...line, text: `${a.head}${q.text}${a.tail}`, assign: { ...a, value, quote: q.quote, expands: false } };
}

/**
 * Set `key` to `value`: the last assignment (the effective one) is rewritten in place; if there
 * is none, `key="value"` is appended. Earlier assignments are left alone (they are overridden).
 */
export function setShVar(file: ShFile, key: string, value: string): ShFile {
  const mine = assignmentsOf(file, key);
  const last = mine[mine.length - 1];
  if (last) {
    if (last.assign?.value === value) return file;
    return { ...file, lines: file.lines.map((l) => (l === last ? rebuild(l, value) : l)) };
  }
  const q = quoteShValue(value, '"');
  const added: ShLine = { text: `${key}=${q.text}`, eol: '\n', lineNo: 0, assign: { key, value, quote: q.quote, head: `${key}=`, tail: '', expands: false } };
  return { ...file, lines: appendLines(file.lines, [added]) };
}

/** Remove every assignment of `key`. */
export function unsetShVar(file: ShFile, key: string): ShFile {
  const lines = file.lines.filter((l) => l.assign?.key !== key);
  if (lines.length === file.lines.length) return file;
  return { ...file, lines: keepFinalEol(file.lines, lines) };
}

/** Whitespace-separated list values (cloned_interfaces, kld_list): the elements. */
export function listElements(value: string): string[] {
  return value.split(/\s+/).filter(Boolean);
}

/** Add one element at the end of a list value, keeping the existing spacing. */
export function listAdd(value: string, element: string): string {
  if (listElements(value).includes(element)) return value;
  const trimmed = value.replace(/\s+$/, '');
  return trimmed === '' ? element : `${trimmed} ${element}`;
}

/**
 * Remove every occurrence of one element. The value alternates words and separators; a dropped
 * word takes the separator before it (or after it, for the first word) with it, so the other
 * elements keep their spacing.
 */
export function listRemove(value: string, element: string): string {
  const out: string[] = [];
  let dropNextSeparator = false;
  for (const part of value.split(/(\s+)/)) {
    const isSeparator = /^\s+$/.test(part);
    if (part === element) {
      if (out.length > 0 && /^\s+$/.test(out[out.length - 1] as string)) out.pop();
      else dropNextSeparator = true;
      continue;
    }
    if (dropNextSeparator) {
      dropNextSeparator = false;
      if (isSeparator) continue;
    }
    out.push(part);
  }
  return out.join('');
}
