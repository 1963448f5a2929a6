// couic-dnsdist's TOML: defaults, every problem at once, secrets never echoed.
import test from 'ava';
import { parse } from 'smol-toml';
import { compileBridgeOptions } from '../../../src/dnsdist/bridge-config.js';
import { ConfigError } from '../../../src/config/errors.js';

const KEY = Buffer.alloc(32, 9).toString('base64');
const TOKEN = 'b7c1f8a2-2c5e-4f1a-9d3e-8f2b6a1c4d5e';

const compile = (text: string) => compileBridgeOptions(parse(text), '/etc/couic');

test('a minimal config gets the defaults (consume only, as the reference\'s consumer)', (t) => {
  const o = compile(`[dnsdist]\nconsole = "127.0.0.1:5199"\nkey = "${KEY}"\n[couic]\nsocket = "couic.sock"\ntoken = "${TOKEN}"\n`);
  t.deepEqual(o.dnsdist.key, new Uint8Array(32).fill(9));
  t.is(o.dnsdist.action, 'drop');
  t.deepEqual(o.couic.endpoint, { kind: 'unix', socketPath: '/etc/couic/couic.sock' });
  t.like(o.sync, { publish: false, consume: true, publishNetmasks: true, publishSuffixes: true, pollIntervalMs: 1000, batchIntervalMs: 1000, stateFile: undefined });
});

test('the reference\'s switches and a TLS endpoint', (t) => {
  const o = compile(
    `[dnsdist]\nconsole = "[::1]:5199"\nkey = "${KEY}"\naction = "refused"\n[couic]\nhost = "127.0.0.1"\nport = 2900\ntls = true\nca = "ca.pem"\nserver_name = "node1"\ntoken = "${TOKEN}"\n` +
      `[sync]\npublish = true\nconsume = false\npublish_netmasks = true\npublish_suffixes = false\nstate_file = "/var/lib/couic-dnsdist/state.json"\n`,
  );
  t.is(o.dnsdist.host, '::1');
  t.is(o.dnsdist.action, 'refused');
  t.deepEqual(o.couic.endpoint, { kind: 'tls', host: '127.0.0.1', port: 2900, caPath: '/etc/couic/ca.pem', serverName: 'node1' });
  t.like(o.sync, { publish: true, consume: false, publishSuffixes: false, stateFile: '/var/lib/couic-dnsdist/state.json' });
});

test('every problem is reported at once, and neither the key nor the token is echoed', (t) => {
  const badKey = Buffer.alloc(16, 3).toString('base64');
  const error = t.throws(
    () =>
      compile(
        `[dnsdist]\nconsole = "localhost"\nkey = "${badKey}"\naction = "nxdomain"\ntypo = 1\n[couic]\nhost = "127.0.0.1"\ntoken = "${TOKEN}"\n[sync]\npublish = false\nconsume = false\npoll_interval_ms = 1\n`,
      ),
    { instanceOf: ConfigError },
  );
  const keys = error?.problems.map((p) => p.key) ?? [];
  for (const key of ['dnsdist.console', 'dnsdist.key', 'dnsdist.action', 'dnsdist.typo', 'couic.port', 'couic.tls', 'couic.ca', 'sync.publish', 'sync.poll_interval_ms']) {
    t.true(keys.includes(key), `${key} reported (got ${keys.join(', ')})`);
  }
  t.false(error?.message.includes(badKey), 'key not echoed');
  t.false(error?.message.includes(TOKEN), 'token not echoed');
});

test('missing tables are named', (t) => {
  const error = t.throws(() => compile(''), { instanceOf: ConfigError });
  t.deepEqual(error?.problems.map((p) => p.key), ['dnsdist', 'couic']);
});
