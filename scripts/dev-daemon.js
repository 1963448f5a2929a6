#!/usr/bin/env node
// `npm start`: runs a couic daemon on an embedded default that needs no root, no NIC
// and no external server: userspace data plane, working dir, socket and development
// certificates under .dev/ in the checkout. Prints how to talk to it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Channel, ChannelCredentials, createClient } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { makeCertificates } from '../dist/pki/make-certificates.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
// COUIC_DEV_DIR: somewhere else than .dev/ (the tests start it in a temp dir).
const dev = process.env.COUIC_DEV_DIR ?? join(root, '.dev');
const certs = join(dev, 'certs');
const config = join(dev, 'couic.toml');
const cliConfig = join(dev, 'couicctl.toml');
const socket = join(dev, 'couic.sock');
const workingDir = join(dev, 'state');
const listen = process.env.COUIC_DEV_LISTEN ?? '127.0.0.1:2900';
const metrics = process.env.COUIC_DEV_METRICS ?? '127.0.0.1:9901';

await mkdir(dev, { recursive: true, mode: 0o700 });
if (!existsSync(join(certs, 'ca.pem'))) {
  await makeCertificates({
    outDir: certs,
    nodes: ['couic-dev'],
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    clients: ['admin'],
  });
}
if (!existsSync(config)) {
  await writeFile(
    config,
    `# Development config written by \`npm start\` (scripts/dev-daemon.js). Edit freely.
ifaces = []            # userspace data plane: no root, no NIC
working_dir = "${workingDir}"

[logging]
format = "pretty"
level = "info"

[server]
socket = "${socket}"
listen = "${listen}"   # TLS with the dev certificates below
mtls = true

[tls]
ca = "${join(certs, 'ca.pem')}"
cert = "${join(certs, 'couic-dev.pem')}"
key = "${join(certs, 'couic-dev-key.pem')}"

[metrics]
listen = "${metrics}"
`,
  );
}
await writeFile(
  cliConfig,
  `mode = "local"\nsocket = "${socket}"\nclient_file = "${join(workingDir, 'rbac', 'clients', 'couicctl.toml')}"\n`,
);

const daemon = spawn(process.execPath, [join(root, 'bin', 'couic.js'), '-c', config], { stdio: 'inherit' });
let exited = false;
daemon.on('exit', (code, signal) => {
  exited = true;
  process.exit(code ?? (signal ? 1 : 0));
});
// Ctrl-C reaches the daemon from the terminal too (same process group); forwarding only
// the first signal, and staying until the daemon has exited, means one stop, no orphan.
let forwarded = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (forwarded || exited) return;
    forwarded = true;
    daemon.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
  });
}

// Whatever happens to the process that started us (npm killed with SIGKILL, a closed
// terminal), the daemon must not outlive it: orphaned = stop the daemon.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && !forwarded && !exited) {
    forwarded = true;
    daemon.kill('SIGTERM');
  }
}, 1_000).unref();

// The banner only once the daemon answers a health check on its socket (never if it
// failed to start: the exit handler above has ended this process by then).
const SERVING = 1; // grpc.health.v1 ServingStatus (the enum is not exported by nice-grpc-server-health)
const channel = new Channel(`unix:${socket}`, ChannelCredentials.createInsecure(), {});
const health = createClient(HealthDefinition, channel);
for (;;) {
  if (exited || forwarded) break;
  try {
    const { status } = await health.check({ service: '' }, { signal: AbortSignal.timeout(1_000) });
    if (status === SERVING) break;
  } catch {
    // not listening yet
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
channel.close();
if (!exited && !forwarded) {
  process.stdout.write(`
  couic is running (userspace data plane), state in ${dev}
  In another terminal:
    export COUICCTL_CONFIG=${cliConfig}
    ./bin/couicctl.js drop add 1.1.1.1/32 -e 1m
    ./bin/couicctl.js drop list
  (or \`npm link\` once to get \`couic\` and \`couicctl\` on your PATH)
  gRPC: unix:${socket}, and ${listen} over mTLS (certs in ${certs})
  Metrics: curl -H "Authorization: Bearer <monitoring token>" http://${metrics}/metrics
  Stop with Ctrl-C.

`);
}
