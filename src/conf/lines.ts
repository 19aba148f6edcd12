/**
 * Lossless line splitting shared by every config format: each line keeps its own end-of-line
 * bytes ("\n", "\r\n", or "" for a last line without a final newline), so joining the lines
 * gives back the file byte for byte and edits never change the line endings around them.
 */

export interface RawLine {
  /** The line's text without its end-of-line bytes. */
  text: string;
  eol: '\n' | '\r\n' | '';
}

export function splitLines(content: string): RawLine[] {
  const out: RawLine[] = [];
  let pos = 0;
  while (pos < content.length) {
    const nl = content.indexOf('\n', pos);
    if (nl < 0) {
      out.push({ text: content.slice(pos), eol: '' });
      break;
    }
    const crlf = nl > pos && content[nl - 1] === '\r';
    out.push({ text: content.slice(pos, crlf ? nl - 1 : nl), eol: crlf ? '\r\n' : '\n' });
    pos = nl + 1;
  }
  return out;
}

export function joinLines(lines: readonly RawLine[]): string {
  return lines.map((l) => l.text + l.eol).join('');
}

/** The end-of-line style new lines should use: the file's first one, else "\n". */
export function dominantEol(lines: readonly RawLine[]): '\n' | '\r\n' {
  const first = lines.find((l) => l.eol !== '');
  return first?.eol === '\r\n' ? '\r\n' : '\n';
}

/**
 * Append lines at the end. A file that had no final newline keeps that shape: the old last
 * line gets an end of line, the new last line has none.
 */
export function appendLines<T extends RawLine>(lines: readonly T[], added: T[]): T[] {
  if (added.length === 0) return [...lines];
  const eol = dominantEol(lines);
  const out = [...lines];
  const last = out[out.length - 1];
  const noFinalNewline = last !== undefined && last.eol === '';
  if (noFinalNewline) out[out.length - 1] = { ...last, eol };
  added.forEach((l, i) => out.push({ ...l, eol: noFinalNewline && i === added.length - 1 ? '' : eol }));
  return out;
}

/**
 * After lines were removed: a file that had no final newline keeps that shape, so its new last
 * line loses its end of line.
 */
export function keepFinalEol<T extends RawLine>(before: readonly T[], after: T[]): T[] {
  const origLast = before[before.length - 1];
  const newLast = after[after.length - 1];
  if (origLast && newLast && origLast.eol === '' && newLast !== origLast) after[after.length - 1] = { ...newLast, eol: '' };
  return after;
}
