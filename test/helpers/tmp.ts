// Temporary directories for tests and benchmarks, and the "scope" that cleans them up:
// a test's own ExecutionContext, a file-wide scope torn down after all its tests, or an
// owned scope its caller closes (a benchmark run, a resource with its own stop()).
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

/** A scope whose owner marks it failed and closes it (teardowns run in reverse order). */
export interface OwnedScope extends Scope {
  fail(): void;
  close(): Promise<void>;
}

export function ownedScope(): OwnedScope {
  const teardowns: (() => unknown)[] = [];
  let failed = false;
  return {
    teardown: (fn) => teardowns.push(fn),
    get passed() {
      return !failed;
    },
    log: (...values) => console.error(...values),
    fail: () => {
      failed = true;
    },
    close: async () => {
      for (const fn of teardowns.splice(0).reverse()) await fn();
    },
  };
}

/** Runs `body` in a fresh owned scope, closed afterwards (marked failed when `body` throws). */
export async function withScope<T>(body: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = ownedScope();
  try {
    return await body(scope);
  } catch (error: unknown) {
    scope.fail();
    throw error;
  } finally {
    await scope.close();
  }
}

/**
 * A scope for resources shared by every test of a file (daemons started in
 * test.before): torn down in test.after.always, in reverse order.
 */
export function fileScope(test: TestFn): Scope {
  const scope = ownedScope();
  test.afterEach.always((t) => {
    if (!t.passed) scope.fail();
  });
  test.after.always(() => scope.close());
  return scope;
}

/**
 * Creates a private (mode 700) directory; removed at teardown unless COUIC_KEEP_TMP
 * (or the older benchmark name COUIC_BENCH_KEEP_TMP) is set.
 */
export async function makeTempDir(scope: Scope, prefix = 'couic-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scope.teardown(async () => {
    if (process.env['COUIC_KEEP_TMP'] !== undefined || process.env['COUIC_BENCH_KEEP_TMP'] !== undefined) {
      console.error(`[couic] keeping ${dir}`);
      return;
    }
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}
