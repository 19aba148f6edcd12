/**
 * Flags whose value is one of a fixed set (--os freebsd|netbsd|auto, --peer vm|netns, ...):
 * --help lists the values instead of <value>, and a value outside the set is a usage error
 * (exit 2) with the flag's own stable error code and a message naming the bad value.
 */
import * as Flags from '@oclif/core/flags';

/** The error code of each choice flag's bad value, keyed by flag name (read by LaggkitCommand.parse). */
export const CHOICE_CODE = Symbol('laggkit choice flag error code');

export function choiceFlag<const T extends readonly string[]>(o: { options: T; description: string; default?: T[number]; code: string }) {
  const flag = Flags.option({ options: o.options, description: o.description, ...(o.default !== undefined ? { default: o.default } : {}) })();
  return Object.assign(flag, { [CHOICE_CODE]: o.code });
}
