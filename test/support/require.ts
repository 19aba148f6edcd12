/**
 * Test prerequisites. A test that needs root, KVM, or a tool that is not installed must never
 * pass silently: under CI (CI=true) it fails with the reason; elsewhere it is skipped and the
 * reason is printed, so a developer's laptop run says exactly what it did not cover.
 */
import { execFileSync } from 'node:child_process';
import type { ExecutionContext, SerialFn, TestFn } from 'ava';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Returns the reasons this environment cannot run a test needing `needs`; empty when it can. */
export function missingPrerequisites(needs: { root?: boolean; tools?: string[] }): string[] {
  const missing: string[] = [];
  if (needs.root && !isRoot()) missing.push('root privileges');
  for (const t of needs.tools ?? []) if (!hasTool(t)) missing.push(`the '${t}' command (run: npm run setup)`);
  return missing;
}

/**
 * Declare a test with prerequisites. In CI a missing prerequisite is a failure naming it;
 * outside CI the test is skipped with the reason on stderr.
 */
export function testNeeding(
  /** ava's test, or test.serial for cases that must not overlap */
  test: TestFn | SerialFn,
  title: string,
  needs: { root?: boolean; tools?: string[] },
  impl: (t: ExecutionContext) => Promise<void> | void,
): void {
  const missing = missingPrerequisites(needs);
  if (missing.length === 0) {
    test(title, impl);
  } else if (inCI) {
    test(title, (t) => t.fail(`prerequisite missing in CI: ${missing.join(', ')}`));
  } else {
    process.stderr.write(`SKIP ${title}: needs ${missing.join(', ')}\n`);
    test.skip(title, () => {});
  }
}
