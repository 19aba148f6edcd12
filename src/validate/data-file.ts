/**
 * Data files people write by hand (deploy specs, e2e scenarios): YAML read with the line of a
 * syntax error, and schema problems listed by field path, so every refusal names the file, the
 * line or the field, and what is wrong there.
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ParseError } from '../cli/errors.js';
import { fieldPath } from './index.js';

/** YAML text to a value; a syntax error is a ParseError naming `file:line`. */
export function parseYamlText(text: string, file: string, code: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    const line = err instanceof YAMLParseError ? err.linePos?.[0]?.line : undefined;
    throw new ParseError(
      code,
      `${file}${line ? `:${line}` : ''}: not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      line,
      'Check the indentation and quoting around that line.',
    );
  }
}

/** "2 problems: setup.proto[1]: ...; expect.x: ..." from a validator's issues. */
export function describeProblems(issues: Array<{ path: (string | number)[]; message: string }>): string {
  const lines = issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
  return `${lines.length} problem${lines.length > 1 ? 's' : ''}: ${lines.join('; ')}`;
}
