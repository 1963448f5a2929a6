// Temporary directories for integration tests and the "scope" that cleans them up:
// a test's own ExecutionContext, or a file-wide scope torn down after all its tests.
// Paths stay short because Unix socket paths are limited to 107 bytes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestFn } from 'ava';

/** What helpers need from their owner: an ava test context fits. */
export interface Scope {
  teardown(fn: () => unknown): void;
  /** Read during teardown: whether to print diagnostics. */
  readonly passed: boolean;
  log(...values: unknown[]): void;
}

/**
 * A scope for resources shared by every test of a file (daemons started in
 * test.before): torn down in test.after.always, in reverse order.
 */
export function fileScope(test: TestFn): Scope {
  const teardowns: (() => unknown)[] = [];
  let failed = false;
  test.afterEach.always((t) => {
    if (!t.passed) failed = true;
  });
  test.after.always(async () => {
    for (const fn of teardowns.reverse()) await fn();
  });
  return {
    teardown: (fn) => teardowns.push(fn),
    get passed() {
      return !failed;
    },
    log: (...values) => console.error(...values),
  };
}

/** Creates a private (mode 700) directory; removed at teardown unless COUIC_KEEP_TMP is set. */
export async function makeTempDir(scope: Scope, prefix = 'couic-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scope.teardown(async () => {
    if (process.env['COUIC_KEEP_TMP'] !== undefined) {
      console.error(`[test] keeping ${dir}`);
      return;
    }
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}
