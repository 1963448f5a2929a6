// The real client stack (channel, bearer-token and deadline middleware, error lines)
// against a small in-process gRPC server on a temporary Unix socket: no daemon needed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type CallContext, createServer, type Server, ServerError, Status } from 'nice-grpc';
import { runCouicctl } from '../../../src/cli/app.js';
import { connectFromConfig, createCouicClients } from '../../../src/cli/connection.js';
import { describeFailure } from '../../../src/cli/errors.js';
import { ManualClock } from '../../../src/domain/clock.js';
import { Policy } from '../../../src/generated/couic/v1/entry.js';
import { type RulesServiceImplementation, RulesServiceDefinition } from '../../../src/generated/couic/v1/rules.js';

const TOKEN = '6f1c1d5e-0d1b-4b8e-9a57-3f6f0d2a9c11';

function unimplemented(): never {
  throw new ServerError(Status.UNIMPLEMENTED, 'not in this test server');
}

function authOf(context: CallContext): string {
  return context.metadata.get('authorization') ?? '';
}

/** Rules service that answers from the request and reports the authorization it saw. */
const rulesImpl: RulesServiceImplementation = {
  addRule: async (request, context) => {
    if (authOf(context) !== `Bearer ${TOKEN}`) throw new ServerError(Status.UNAUTHENTICATED, 'unknown token');
    if (request.rule?.cidr.endsWith('/33')) {
      throw new ServerError(Status.INVALID_ARGUMENT, 'cidr: prefix length 33 is out of range 1-32 for IPv4');
    }
    return { entry: { ...request.rule, originNode: 'test-node' } };
  },
  getRule: async (request, context) => ({ entry: { policy: request.policy, cidr: request.cidr, tag: 'seen', originNode: authOf(context) } }),
  listRules: async function* listRules() {
    yield { entries: [{ policy: Policy.POLICY_DROP, cidr: '1.0.0.0/8' }] };
    yield { entries: [{ policy: Policy.POLICY_DROP, cidr: '2.0.0.0/8' }] };
  },
  checkAddress: async (_request, context) => {
    // Never answers in time: waits for the client to give up.
    await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
    return {};
  },
  addRules: unimplemented,
  deleteRule: unimplemented,
  deleteRules: unimplemented,
};

async function withServer(run: (socket: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'couicctl-conn-'));
  const socket = join(dir, 'couic.sock');
  const server: Server = createServer();
  server.add(RulesServiceDefinition, rulesImpl);
  await server.listen(`unix:${socket}`);
  try {
    await run(socket, dir);
  } finally {
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

test('every call carries `authorization: Bearer <token>`; streams arrive in order', async (t) => {
  await withServer(async (socket) => {
    const clients = createCouicClients({ target: `unix:${socket}`, token: TOKEN });
    try {
      const { entry } = await clients.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '1.1.1.1/32' });
      t.is(entry?.originNode, `Bearer ${TOKEN}`);
      const cidrs: string[] = [];
      for await (const chunk of clients.rules.listRules({})) cidrs.push(...chunk.entries.map((e) => e.cidr));
      t.deepEqual(cidrs, ['1.0.0.0/8', '2.0.0.0/8']);
    } finally {
      clients.close();
    }
  });
});

test('a server error becomes the documented one-line message', async (t) => {
  await withServer(async (socket) => {
    const clients = createCouicClients({ target: `unix:${socket}`, token: TOKEN });
    try {
      const error = await t.throwsAsync(clients.rules.addRule({ rule: { policy: Policy.POLICY_DROP, cidr: '1.1.1.1/33' } }));
      t.deepEqual(describeFailure(error), {
        line: 'couicctl: error: INVALID_ARGUMENT: cidr: prefix length 33 is out of range 1-32 for IPv4',
        exitCode: 1,
      });
    } finally {
      clients.close();
    }
  });
});

test('unary calls get a deadline: a server that never answers gives DEADLINE_EXCEEDED', async (t) => {
  await withServer(async (socket) => {
    const clients = createCouicClients({ target: `unix:${socket}`, token: TOKEN, unaryTimeoutMs: 150 });
    try {
      const error = await t.throwsAsync(clients.rules.checkAddress({ address: '1.1.1.1' }));
      t.is(describeFailure(error).line, 'couicctl: error: DEADLINE_EXCEEDED: no answer within 150 ms');
    } finally {
      clients.close();
    }
  });
});

test('no daemon on the socket: UNAVAILABLE naming the socket and suggesting the daemon is down', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'couicctl-conn-'));
  const target = `unix:${join(dir, 'absent.sock')}`;
  const clients = createCouicClients({ target, token: TOKEN });
  try {
    const error = await t.throwsAsync(clients.rules.getRule({ cidr: '1.1.1.1/32' }));
    const { line, exitCode } = describeFailure(error, target);
    t.is(exitCode, 1);
    t.is(line, `couicctl: error: UNAVAILABLE: cannot reach couic at ${target} (connect ENOENT ${join(dir, 'absent.sock')}); is the daemon running?`);
  } finally {
    clients.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('couicctl end to end: config file -> client file token -> socket -> table', async (t) => {
  await withServer(async (_socket, dir) => {
    await writeFile(join(dir, 'client.toml'), `name = "couicctl"\ngroup = "admin"\ntoken = "${TOKEN}"\n`);
    await writeFile(join(dir, 'couicctl.toml'), 'mode = "local"\nsocket = "couic.sock"\nclient_file = "client.toml"\n');
    let stdout = '';
    let stderr = '';
    const nowMs = 1_700_000_000_500;
    const code = await runCouicctl(['drop', 'add', '1.1.1.1/32', '-e', '1m'], {
      env: { COUICCTL_CONFIG: join(dir, 'couicctl.toml') },
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      stdoutIsTty: false,
      clock: new ManualClock(nowMs),
      readText: async () => '',
      sleep: async () => undefined,
      interruptSignal: () => new AbortController().signal,
      connect: (path, explicit) => connectFromConfig(path, explicit),
      version: 'test',
    });
    t.is(stderr, '');
    t.is(code, 0);
    t.is(
      stdout,
      `┌────────┬────────────┬─────┬────────────┐
│ Policy ┆ CIDR       ┆ Tag ┆ Expiration │
╞════════╪════════════╪═════╪════════════╡
│ drop   ┆ 1.1.1.1/32 ┆     ┆ 59s        │
└────────┴────────────┴─────┴────────────┘
`,
    );
  });
});
