/**
 * Lossless model of NetBSD's line-per-command files:
 *
 *   /etc/ifconfig.IF   one ifconfig(8) argument list per line (`up`, `laggproto lacp`,
 *                      `laggport wm0 pri 1000`, `inet 192.0.2.1/24`), `#` comments; lines
 *                      starting with `!` are shell commands run by rc.d/network.
 *   /etc/modules.conf  one module per line, optionally followed by its arguments.
 *
 * A line's key is its first word, its value the rest. Comments, blank lines and spacing are
 * kept byte for byte; only lines that are added, replaced or removed change.
 */
import { appendLines, joinLines, keepFinalEol, splitLines, type RawLine } from './lines.js';

export interface WordLine extends RawLine {
  lineNo: number;
  /** First word, or undefined for blank and comment lines. */
  key?: string;
  /** The rest of the line with single spaces between words, comment removed. */
  value?: string;
}

export interface WordFile {
  path: string;
  lines: WordLine[];
}

function parseWords(text: string): { key: string; value: string } | null {
  const body = text.replace(/(^|\s)#.*$/, '').trim();
  if (body === '') return null;
  const words = body.split(/\s+/);
  return { key: words[0] as string, value: words.slice(1).join(' ') };
}

export function parseWordLines(content: string, path: string): WordFile {
  return {
    path,
    lines: splitLines(content).map((l, i) => {
      const w = parseWords(l.text);
      return w ? { ...l, lineNo: i + 1, key: w.key, value: w.value } : { ...l, lineNo: i + 1 };
    }),
  };
}

export function printWordLines(file: WordFile): string {
  return joinLines(file.lines);
}

export function linesOf(file: WordFile, key: string): WordLine[] {
  return file.lines.filter((l) => l.key === key);
}

function makeLine(key: string, value: string): WordLine {
  return { text: value === '' ? key : `${key} ${value}`, eol: '\n', lineNo: 0, key, value };
}

/**
 * Make `key value` the only line for `key`: the first existing line is rewritten in place,
 * later ones removed; appended when absent. Unchanged when it is already so.
 */
export function setWordLine(file: WordFile, key: string, value: string): WordFile {
  const mine = linesOf(file, key);
  if (mine.length === 1 && mine[0]?.value === value) return file;
  if (mine.length === 0) return { ...file, lines: appendLines(file.lines, [makeLine(key, value)]) };
  const first = mine[0] as WordLine;
  const lines = file.lines
    .filter((l) => l.key !== key || l === first)
    .map((l) => (l === first ? { ...makeLine(key, value), eol: l.eol, lineNo: l.lineNo } : l));
  return { ...file, lines: keepFinalEol(file.lines, lines) };
}

/** Ensure one more `key value` line exists (e.g. a second laggport); unchanged if present. */
export function addWordLine(file: WordFile, key: string, value: string): WordFile {
  if (linesOf(file, key).some((l) => l.value === value)) return file;
  // Keep related lines together: insert after the last line with the same key, if any.
  const idx = file.lines.map((l) => l.key).lastIndexOf(key);
  if (idx < 0 || idx === file.lines.length - 1) return { ...file, lines: appendLines(file.lines, [makeLine(key, value)]) };
  const lines = [...file.lines];
  lines.splice(idx + 1, 0, { ...makeLine(key, value), eol: (lines[idx] as WordLine).eol || '\n' });
  return { ...file, lines };
}

/** Remove the lines of `key` (only those with exactly `value`, when given). */
export function removeWordLines(file: WordFile, key: string, value?: string): WordFile {
  const lines = file.lines.filter((l) => !(l.key === key && (value === undefined || l.value === value)));
  if (lines.length === file.lines.length) return file;
  return { ...file, lines: keepFinalEol(file.lines, lines) };
}
