// A nats-server for the bus benchmarks: the test kit's (test/helpers/nats.ts: Debian's
// nats-server, JetStream on, a loopback port it binds itself, store in a temp dir) in
// a scope of its own, closed by stop().
import { startNats } from '../../test/helpers/nats.js';
import { ownedScope } from '../../test/helpers/tmp.js';

export interface BenchNats {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startBenchNats(): Promise<BenchNats> {
  const scope = ownedScope();
  try {
    // The convergence scenario holds 262,144 rules and their rewrites in the stream.
    const server = await startNats(scope, { maxFileStore: '4GB' });
    return {
      url: server.url,
      stop: async () => {
        await server.stop();
        await scope.close();
      },
    };
  } catch (error: unknown) {
    scope.fail();
    await scope.close();
    throw error;
  }
}
