import test from 'ava';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/config/errors.js';
import { checkNodeId, deriveNodeId, resolveNodeId } from '../../../src/config/node-id.js';

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'couic-nid-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const fixed = { hostname: () => 'couic1', suffix: () => '0a1b2c3d' };

test('the configured node id wins and nothing is written', async (t) => {
  const dir = await tempDir(t);
  t.deepEqual(await resolveNodeId({ nodeId: 'node-a' }, dir), { nodeId: 'node-a', source: 'config' });
  await t.throwsAsync(stat(join(dir, 'node_id')), { code: 'ENOENT' });
});

test('without one, an id is derived, persisted, and the same after a restart', async (t) => {
  const dir = await tempDir(t);
  const workingDir = join(dir, 'work'); // created on demand
  const first = await resolveNodeId({}, workingDir, fixed);
  t.deepEqual(first, { nodeId: 'couic1-0a1b2c3d', source: 'generated' });
  t.is(await readFile(join(workingDir, 'node_id'), 'utf8'), 'couic1-0a1b2c3d\n');
  const other = { hostname: () => 'renamed', suffix: () => 'ffffffff' };
  t.deepEqual(await resolveNodeId({}, workingDir, other), { nodeId: 'couic1-0a1b2c3d', source: 'file' });
});

test('the random suffix makes ids of clones differ', async (t) => {
  const [a, b] = await Promise.all([tempDir(t), tempDir(t)]);
  const idA = await resolveNodeId({}, a, { hostname: () => 'same-image' });
  const idB = await resolveNodeId({}, b, { hostname: () => 'same-image' });
  t.regex(idA.nodeId, /^same-image-[0-9a-f]{8}$/);
  t.not(idA.nodeId, idB.nodeId);
});

test('concurrent starts agree on one id', async (t) => {
  const dir = await tempDir(t);
  let n = 0;
  const results = await Promise.all(
    Array.from({ length: 8 }, () => resolveNodeId({}, dir, { hostname: () => 'h', suffix: () => `0000000${n++}` })),
  );
  const ids = new Set(results.map((r) => r.nodeId));
  t.is(ids.size, 1);
  t.deepEqual([(await readFile(join(dir, 'node_id'), 'utf8')).trim()], [...ids]);
  t.is(results.filter((r) => r.source === 'generated').length, 1);
});

test('a corrupt node_id file is an error naming the file, not silently replaced', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'node_id');
  await writeFile(file, 'not a valid id\n');
  const err = await t.throwsAsync(resolveNodeId({}, dir, fixed), { instanceOf: ConfigError });
  t.is(err?.file, file);
  t.regex(err?.message ?? '', new RegExp(`^${file}: invalid node id file`));
  t.is(await readFile(file, 'utf8'), 'not a valid id\n');
});

test('an invalid configured id is refused', async (t) => {
  const dir = await tempDir(t);
  const err = await t.throwsAsync(resolveNodeId({ nodeId: 'bad id' }, dir), { instanceOf: ConfigError });
  t.is(err?.key, 'node_id');
});

test('derived ids are sanitised host names', (t) => {
  t.is(deriveNodeId({ hostname: () => 'My Host_1.Example', suffix: () => 'abcd1234' }), 'my-host_1.example-abcd1234');
  t.is(deriveNodeId({ hostname: () => '', suffix: () => 'abcd1234' }), 'node-abcd1234');
  t.is(deriveNodeId({ hostname: () => '--x', suffix: () => 'abcd1234' }), 'x-abcd1234');
  const long = deriveNodeId({ hostname: () => 'h'.repeat(200), suffix: () => 'abcd1234' });
  t.is(long.length, 64);
  t.is(checkNodeId(long), undefined);
});

test('checkNodeId', (t) => {
  for (const ok of ['a', 'node-a', 'couic1.couic.tld', 'N_1']) t.is(checkNodeId(ok), undefined, ok);
  for (const bad of ['', '-a', '.a', 'a b', 'a/b', 'é', 'x'.repeat(65)]) t.not(checkNodeId(bad), undefined, bad);
});
