/**
 * Typed errors for every layer. A LaggkitError carries a stable machine code, a message that
 * names the bad value, and a suggestion the operator can act on. The CLI maps the code's class
 * to a documented exit code (see EXIT_CODES), so scripts can branch on failures without parsing
 * text.
 */

/** Stable exit codes. Documented in README.md ("Exit codes"); never renumber. */
export const EXIT_CODES = {
  ok: 0,
  /** Something unexpected: a bug in laggkit. */
  internal: 1,
  /** Bad flags, arguments or input values (including hostile names). */
  usage: 2,
  /** Input that could not be parsed (ifconfig text, config files, frames). */
  parse: 3,
  /** SSH: connection, authentication, unknown or changed host key. */
  ssh: 4,
  /** A remote or local command failed, or a file could not be written/verified. */
  remote: 5,
  /** A required tool, privilege or device is missing (qemu, root, KVM...). */
  environment: 6,
  /** A VM or lab operation failed. */
  lab: 7,
  /** A deployment step failed and was rolled back. */
  rolledBack: 8,
  /** `conf get`: the key is not set (scripts test for it, as with `sysrc -c`). */
  notSet: 9,
  /** laggkit e2e ran, and at least one scenario failed (the reports say which and why). */
  e2eFailed: 10,
} as const;

export type ExitClass = keyof typeof EXIT_CODES;

export interface ErrorShape {
  code: string;
  message: string;
  suggestion?: string;
}

export class LaggkitError extends Error {
  readonly code: string;
  readonly suggestion: string | undefined;
  readonly exitClass: ExitClass;
  /** What was done before the failure (a fleet's per-host outcomes), for --json's envelope. */
  partialResult?: unknown;

  constructor(exitClass: ExitClass, code: string, message: string, suggestion?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LaggkitError';
    this.exitClass = exitClass;
    this.code = code;
    this.suggestion = suggestion;
  }

  get exitCode(): number {
    return EXIT_CODES[this.exitClass];
  }

  toJSON(): ErrorShape {
    return this.suggestion === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, suggestion: this.suggestion };
  }
}

/** Bad user input: a flag, an argument, a value that fails validation. */
export class UsageError extends LaggkitError {
  constructor(code: string, message: string, suggestion?: string) {
    super('usage', code, message, suggestion);
    this.name = 'UsageError';
  }
}

/** Input text (ifconfig output, a config file) that could not be understood. */
export class ParseError extends LaggkitError {
  readonly line: number | undefined;
  constructor(code: string, message: string, line?: number, suggestion?: string) {
    super('parse', code, message, suggestion);
    this.name = 'ParseError';
    this.line = line;
  }
}

/** A missing tool, privilege or device that an operation needs. */
export class EnvironmentError extends LaggkitError {
  constructor(code: string, message: string, suggestion?: string) {
    super('environment', code, message, suggestion);
    this.name = 'EnvironmentError';
  }
}

/** Wrap anything thrown into a LaggkitError so output and exit codes stay uniform. */
export function toLaggkitError(err: unknown): LaggkitError {
  if (err instanceof LaggkitError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new LaggkitError('internal', 'E_INTERNAL', message, 'This is a bug in laggkit; please report it with --json output.', { cause: err });
}
