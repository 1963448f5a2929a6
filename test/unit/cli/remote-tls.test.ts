// Remote mode over TLS with a client certificate (mTLS), against an in-process gRPC
// server on 127.0.0.1:0 using certificates made by src/pki: the config keys ca, cert,
// key and server_name do what docs/cli.md says.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ServerCredentials } from '@grpc/grpc-js';
import { createServer, ServerError, Status } from 'nice-grpc';
import { runCouicctl } from '../../../src/cli/app.js';
import { connectFromConfig } from '../../../src/cli/connection.js';
import { ManualClock } from '../../../src/domain/clock.js';
import { Verdict, type RulesServiceImplementation, RulesServiceDefinition } from '../../../src/generated/couic/v1/rules.js';
import { makeCertificates } from '../../../src/pki/make-certificates.js';

const TOKEN = 'a3d7c7e2-5b7e-4f0e-8a3e-1c2d3e4f5a6b';

function unimplemented(): never {
  throw new ServerError(Status.UNIMPLEMENTED, 'not in this test server');
}

const rulesImpl: RulesServiceImplementation = {
  checkAddress: async (_request, context) => {
    if (context.metadata.get('authorization') !== `Bearer ${TOKEN}`) throw new ServerError(Status.UNAUTHENTICATED, 'unknown token');
    return { verdict: Verdict.VERDICT_PASS };
  },
  addRule: unimplemented,
  addRules: unimplemented,
  deleteRule: unimplemented,
  deleteRules: unimplemented,
  getRule: unimplemented,
  listRules: unimplemented,
};

async function couicctl(configPath: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCouicctl(['-c', configPath, ...args], {
    env: {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdoutIsTty: false,
    clock: new ManualClock(),
    readText: async () => '',
    sleep: async () => undefined,
    interruptSignal: () => new AbortController().signal,
    connect: (path, explicit) => connectFromConfig(path, explicit, 5000),
    version: 'test',
  });
  return { code, stdout, stderr };
}

test('remote mode: mTLS with ca/cert/key and server_name works; without a client certificate it is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'couicctl-tls-'));
  const server = createServer();
  try {
    await makeCertificates({ outDir: join(dir, 'certs'), nodes: ['node1'], dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], clients: ['admin'] });
    const pem = (name: string) => readFile(join(dir, 'certs', name));
    const credentials = ServerCredentials.createSsl(await pem('ca.pem'), [{ cert_chain: await pem('node1.pem'), private_key: await pem('node1-key.pem') }], true);
    server.add(RulesServiceDefinition, rulesImpl);
    const port = await server.listen('127.0.0.1:0', credentials);

    const base = `mode = "remote"\nhost = "127.0.0.1"\nport = ${port}\ntoken = "${TOKEN}"\nca = "certs/ca.pem"\nserver_name = "localhost"\n`;
    await writeFile(join(dir, 'mtls.toml'), `${base}cert = "certs/admin.pem"\nkey = "certs/admin-key.pem"\n`);
    await writeFile(join(dir, 'no-cert.toml'), base);

    const ok = await couicctl(join(dir, 'mtls.toml'), ['check', '192.0.2.1', '-q']);
    t.is(ok.stderr, '');
    t.is(ok.code, 0);
    t.is(ok.stdout, 'pass\n');

    const refused = await couicctl(join(dir, 'no-cert.toml'), ['check', '192.0.2.1']);
    t.is(refused.code, 1);
    t.regex(refused.stderr, /^couicctl: error: UNAVAILABLE: /);
  } finally {
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  }
});
