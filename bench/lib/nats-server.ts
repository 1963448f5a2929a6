// A nats-server (Debian's, JetStream on) for the bus benchmarks: free loopback
// port, store in the benchmark's temp dir, stopped with the scenario.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freeLoopbackPort } from './ports.js';

export interface BenchNats {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startBenchNats(dir: string): Promise<BenchNats> {
  const base = join(dir, 'nats');
  await mkdir(base, { recursive: true });
  const port = await freeLoopbackPort();
  const conf = join(base, 'nats.conf');
  await writeFile(conf, `host: "127.0.0.1"\nport: ${port}\njetstream: { store_dir: ${JSON.stringify(join(base, 'store'))}, max_file_store: 4GB }\n`);
  const child = spawn(process.env['NATS_SERVER_BIN'] ?? 'nats-server', ['-c', conf], { stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) throw new Error('nats-server did not open its port');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
