// Malformed-input fuzzing of the real daemon: seeded random strings and numbers as
// CIDRs, tags, names, expirations, addresses, tag patterns and metadata; oversized
// messages; raw garbage bytes. Every answer must be a clean client-error status
// (never INTERNAL/UNAVAILABLE), and the daemon must be healthy, holding its earlier
// rules, at the end.
import anyTest, { type TestFn } from 'ava';
import { Client as GrpcClient, credentials, Metadata as GrpcMetadata, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { tryParseCidr } from '../../src/domain/cidr.js';
import { MAX_MESSAGE_BYTES } from '../../src/api/grpc-server.js';
import { collect, connectUnix, expectGrpcError, statusOf, Status, type CouicClients } from '../helpers/clients.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { dropSpec, ignoreSpec, Policy, v4Hosts } from '../helpers/rules.js';
import { fileScope } from '../helpers/tmp.js';

const test = anyTest as TestFn;
const scope = fileScope(test);
const SEED = Number(process.env['COUIC_FUZZ_SEED'] ?? 20_240_601);
const RUNS = Number(process.env['COUIC_FUZZ_RUNS'] ?? 2_000);

let daemon: Daemon;
let api: CouicClients;

test.before(async () => {
  daemon = await startDaemon(scope);
  api = connectUnix(scope, daemon.socketPath, daemon.adminToken);
  await api.rules.addRules({ rules: [dropSpec('192.0.2.1/32', { tag: 'sentinel' }), ignoreSpec('2001:db8::/48', { tag: 'sentinel' })] });
});

// ---------------------------------------------------------------- generators

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.string({ maxLength: 300, unit: fc.constantFrom(...'0123456789abcdef.:/%-_ *\t\n\u0000') }),
  fc.constantFrom('', ' ', '/', '//', '::', ':::', '.', '..', '*', '%', '\u0000', '\uFEFF', '\u202E', 'untagged', 'x.couic', '../../etc/passwd'),
);

const prefix = fc.oneof(
  fc.integer({ min: -5, max: 140 }).map(String),
  fc.constantFrom('', '+8', '08', '024', ' 8', '8 ', '1e1', '0x10', '33', '129', '-0', '٣', '9'.repeat(30)),
);

const cidrLike = fc.oneof(
  text,
  fc.tuple(fc.ipV4(), prefix).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.ipV6(), prefix).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.ipV4Extended(), prefix).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), prefix, fc.constantFrom('/', ' ', '%eth0', '/8', '\n', '#', ',1.2.3.4/8')).map(([a, p, s]) => `${a}/${p}${s}`),
  fc.tuple(fc.constantFrom(' ', '\t', '['), fc.ipV4(), fc.integer({ min: 1, max: 32 })).map(([w, a, p]) => `${w}${a}/${p}`),
);

const addressLike = fc.oneof(text, fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), cidrLike);

const name = fc.oneof(text, fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/));

/** Only values the client can encode as int64 and the daemon can decode exactly. */
const expiration = fc.oneof(
  fc.integer({ min: -2_000_000_000, max: 4_000_000_000 }),
  fc.maxSafeInteger(),
  fc.constantFrom(0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
);

const policy = fc.oneof(fc.constantFrom(Policy.POLICY_DROP, Policy.POLICY_IGNORE), fc.integer({ min: -3, max: 2 ** 31 - 1 }).map((n) => n as Policy));

type Outcome = { code: string; details: string };
type Operation = { label: string; run: () => Promise<Outcome>; allowed: readonly string[]; check?: (outcome: Outcome) => string | undefined };

const INPUT_ERRORS = ['OK', 'INVALID_ARGUMENT'] as const;

const operation: fc.Arbitrary<Operation> = fc.oneof(
  cidrLike.map((cidr) => ({
    label: `AddRule cidr=${JSON.stringify(cidr)}`,
    allowed: INPUT_ERRORS,
    run: async () => {
      try {
        const { entry } = await api.rules.addRule({ rule: dropSpec(cidr, { tag: 'fuzz' }) });
        return { code: 'OK', details: entry?.cidr ?? '' };
      } catch (error) {
        return statusOf(Promise.reject(error));
      }
    },
    // The API accepts exactly what the domain parser accepts, normalised the same way.
    check: (outcome: Outcome) => {
      const parsed = tryParseCidr(cidr);
      if (typeof parsed === 'string') return outcome.code === 'INVALID_ARGUMENT' && /cidr/.test(outcome.details) ? undefined : 'should be INVALID_ARGUMENT naming cidr';
      return outcome.code === 'OK' && outcome.details === parsed.text ? undefined : `should be OK as ${parsed.text}`;
    },
  })),
  text.map((tag) => ({ label: `AddRule tag=${JSON.stringify(tag)}`, allowed: INPUT_ERRORS, run: () => statusOf(api.rules.addRule({ rule: dropSpec('198.51.100.0/24', { tag }) })) })),
  expiration.map((exp) => ({ label: `AddRule expiration=${exp}`, allowed: INPUT_ERRORS, run: () => statusOf(api.rules.addRule({ rule: dropSpec('198.51.100.1/32', { expiration: exp }) })) })),
  policy.map((p) => ({ label: `AddRule policy=${p}`, allowed: INPUT_ERRORS, run: () => statusOf(api.rules.addRule({ rule: { ...dropSpec('198.51.100.2/32'), policy: p } })) })),
  fc.tuple(text, text, fc.option(fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }), { nil: undefined })).map(([kind, detail, extra]) => ({
    label: `AddRule metadata=${JSON.stringify({ kind, detail, extra })}`,
    allowed: INPUT_ERRORS,
    run: () => statusOf(api.rules.addRule({ rule: dropSpec('198.51.100.3/32', { metadata: { kind, detail, extra } }) })),
  })),
  fc.array(fc.tuple(cidrLike, text, expiration), { minLength: 1, maxLength: 20 }).map((rules) => ({
    label: `AddRules ${JSON.stringify(rules)}`,
    allowed: INPUT_ERRORS,
    run: () => statusOf(api.rules.addRules({ rules: rules.map(([cidr, tag, exp]) => ignoreSpec(cidr, { tag, expiration: exp })) })),
  })),
  fc.tuple(policy, cidrLike).map(([p, cidr]) => ({ label: `GetRule ${p} ${JSON.stringify(cidr)}`, allowed: ['OK', 'INVALID_ARGUMENT', 'NOT_FOUND'], run: () => statusOf(api.rules.getRule({ policy: p, cidr })) })),
  fc.tuple(policy, cidrLike).map(([p, cidr]) => ({
    label: `DeleteRule ${p} ${JSON.stringify(cidr)}`,
    allowed: ['OK', 'INVALID_ARGUMENT', 'NOT_FOUND'],
    // Keep the sentinels: they are checked at the end.
    run: () => (cidr.startsWith('192.0.2.1/') || cidr.startsWith('2001:db8::') ? Promise.resolve({ code: 'OK', details: 'skipped' }) : statusOf(api.rules.deleteRule({ policy: p, cidr }))),
  })),
  addressLike.map((address) => ({ label: `CheckAddress ${JSON.stringify(address)}`, allowed: INPUT_ERRORS, run: () => statusOf(api.rules.checkAddress({ address })) })),
  fc.tuple(fc.constantFrom(Policy.POLICY_UNSPECIFIED, Policy.POLICY_DROP), fc.array(text, { maxLength: 5 })).map(([p, tags]) => ({
    label: `ListRules tags=${JSON.stringify(tags)}`,
    allowed: INPUT_ERRORS,
    run: () => statusOf(collect(api.rules.listRules({ policy: p, tags, includeSets: true }))),
  })),
  fc.tuple(name, fc.oneof(fc.constantFrom('admin', 'clientrw', 'clientro', 'peering', 'monitoring'), text)).map(([n, group]) => ({
    label: `AddClient ${JSON.stringify(n)} ${JSON.stringify(group)}`,
    allowed: ['OK', 'INVALID_ARGUMENT', 'ALREADY_EXISTS'],
    run: () => statusOf(api.clients.addClient({ name: n, group })),
  })),
  name.map((n) => ({ label: `GetClient ${JSON.stringify(n)}`, allowed: ['OK', 'INVALID_ARGUMENT', 'NOT_FOUND'], run: () => statusOf(api.clients.getClient({ name: n })) })),
  fc.tuple(policy, name, fc.array(cidrLike, { maxLength: 4 })).map(([p, n, cidrs]) => ({
    label: `CreateSet ${p} ${JSON.stringify(n)} ${JSON.stringify(cidrs)}`,
    allowed: ['OK', 'INVALID_ARGUMENT', 'ALREADY_EXISTS'],
    run: () => statusOf(api.sets.createSet({ policy: p, name: n, cidrs })),
  })),
  fc.tuple(policy, name).map(([p, n]) => ({ label: `GetSet ${p} ${JSON.stringify(n)}`, allowed: ['OK', 'INVALID_ARGUMENT', 'NOT_FOUND', 'FAILED_PRECONDITION'], run: () => statusOf(api.sets.getSet({ policy: p, name: n })) })),
  policy.map((p) => ({ label: `GetTagStats ${p}`, allowed: INPUT_ERRORS, run: () => statusOf(api.stats.getTagStats({ policy: p })) })),
);

test.serial(`fuzz: ${RUNS} random requests get OK or a client-error status, never INTERNAL/UNAVAILABLE (seed ${SEED})`, async (t) => {
  const counts = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(operation, async (op) => {
      const outcome = await op.run();
      counts.set(outcome.code, (counts.get(outcome.code) ?? 0) + 1);
      if (!op.allowed.includes(outcome.code)) throw new Error(`${op.label} -> ${outcome.code}: ${outcome.details}`);
      const problem = op.check?.(outcome);
      if (problem !== undefined) throw new Error(`${op.label} -> ${outcome.code} ${outcome.details}: ${problem}`);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  t.log(Object.fromEntries(counts));
  t.true((counts.get('OK') ?? 0) > 0 && (counts.get('INVALID_ARGUMENT') ?? 0) > 0, 'both accepted and refused inputs were exercised');
});

test.serial(`an oversized request (> ${MAX_MESSAGE_BYTES} bytes) is refused with RESOURCE_EXHAUSTED`, async (t) => {
  const huge = 'a'.repeat(MAX_MESSAGE_BYTES + 1024);
  await expectGrpcError(t, api.rules.addRule({ rule: dropSpec('198.51.100.9/32', { tag: huge }) }), Status.RESOURCE_EXHAUSTED);
  await expectGrpcError(t, collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: [huge], includeSets: false })), Status.RESOURCE_EXHAUSTED);
  // A batch made of many ordinary entries, over the limit in total.
  const many = Math.ceil((MAX_MESSAGE_BYTES + 1024) / 200);
  const tag = 't'.repeat(64);
  const rules = v4Hosts(many, 70).map((cidr) => dropSpec(cidr, { tag, metadata: { kind: 'k'.repeat(60), detail: 'd'.repeat(60), extra: undefined } }));
  await expectGrpcError(t, api.rules.addRules({ rules }), Status.RESOURCE_EXHAUSTED);
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '70.0.0.0/32' }), Status.NOT_FOUND);
  t.is((await api.health.check({ service: '' })).status, 1);
});

test.serial('a batch over the per-call limit of entries is INVALID_ARGUMENT, nothing added', async (t) => {
  const rules = v4Hosts(262_145, 80).map((cidr) => dropSpec(cidr));
  await expectGrpcError(t, api.rules.addRules({ rules }), Status.INVALID_ARGUMENT, /rules/);
  await expectGrpcError(t, api.rules.getRule({ policy: Policy.POLICY_DROP, cidr: '80.0.0.0/32' }), Status.NOT_FOUND);
});

/** Sends raw bytes as the request body of a method (bypassing any encoder). */
function rawCall(socketPath: string, token: string, path: string, body: Buffer): Promise<Outcome> {
  const client = new GrpcClient(`unix:${socketPath}`, credentials.createInsecure());
  const metadata = new GrpcMetadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise<Outcome>((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      metadata,
      { deadline: Date.now() + 5_000 },
      (error: ServiceError | null) => {
        client.close();
        resolve(error === null ? { code: 'OK', details: '' } : { code: Status[error.code] ?? String(error.code), details: error.details });
      },
    );
  });
}

test.serial('random bytes as request bodies are refused without harming the daemon', async (t) => {
  const methods = [
    '/couic.v1.RulesService/AddRule',
    '/couic.v1.RulesService/AddRules',
    '/couic.v1.RulesService/CheckAddress',
    '/couic.v1.ClientsService/AddClient',
    '/couic.v1.SetsService/CreateSet',
  ];
  const counts = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...methods), fc.uint8Array({ maxLength: 200 }), async (method, bytes) => {
      const outcome = await rawCall(daemon.socketPath, daemon.adminToken, method, Buffer.from(bytes));
      counts.set(outcome.code, (counts.get(outcome.code) ?? 0) + 1);
      // Undecodable bodies are bad input like any other: INVALID_ARGUMENT, never INTERNAL.
      // Decodable garbage is judged on its fields. The daemon must stay up either way.
      if (!['OK', 'INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS'].includes(outcome.code)) {
        throw new Error(`${method} ${Buffer.from(bytes).toString('hex')} -> ${outcome.code}: ${outcome.details}`);
      }
    }),
    { numRuns: 300, seed: SEED },
  );
  t.log(Object.fromEntries(counts));
  t.is((await api.health.check({ service: '' })).status, 1);
});

test.serial('after all of it the daemon is healthy, holds its earlier rules, stops cleanly and logged no error', async (t) => {
  t.is((await api.health.check({ service: '' })).status, 1);
  const sentinels = await collect(api.rules.listRules({ policy: Policy.POLICY_UNSPECIFIED, tags: ['sentinel'], includeSets: false }));
  t.deepEqual(sentinels.map((e) => e.cidr).sort(), ['192.0.2.1/32', '2001:db8::/48']);
  t.is(daemon.process.exitCode, null);
  // Stop it (reading all it printed) and check it never logged an error.
  t.deepEqual(await daemon.stop(), { code: 0, signal: null });
  const internal = daemon.output().split('\n').filter((line) => /"level":(50|60)/.test(line));
  t.deepEqual(internal.map((l) => l.slice(0, 300)), []);
});

// ---------------------------------------------------------------- int64 edges (own daemon)

// Regression: the generated decoder (ts-proto forceLong=number) cannot represent int64
// values beyond +-2^53; such a well-formed request used to be answered INTERNAL.
test('an int64 expiration beyond 2^53 is INVALID_ARGUMENT (expiration), not INTERNAL', async (t) => {
  const own = await startDaemon(t);
  const client = connectUnix(t, own.socketPath, own.adminToken);
  for (const value of [2 ** 53, 2 ** 62, -(2 ** 63)]) {
    await expectGrpcError(t, client.rules.addRule({ rule: dropSpec('198.51.100.50/32', { expiration: value }) }), Status.INVALID_ARGUMENT, /expiration/);
  }
});
