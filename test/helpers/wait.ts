// Bounded polling for conditions that no event announces (a peer converged, a rule
// arrived): one loop for tests and benchmarks. Where an event exists (a child's exit,
// a line of output), wait on it instead.

/** Polls `check` until it returns true (bounded); returns whether it did. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 30_000, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Like `eventually`, but throws `<what> not reached within <timeoutMs> ms` when it times out. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  if (!(await eventually(check, timeoutMs))) throw new Error(`${what} not reached within ${timeoutMs} ms`);
}
