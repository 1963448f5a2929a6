// [bus] table of couic.toml: defaults, TLS/auth choices, and the messages users see.
import test from 'ava';
import { parse } from 'smol-toml';
import { compileDaemonOptions } from '../../../src/config/daemon-config.js';
import { ConfigError } from '../../../src/config/errors.js';

const compile = (toml: string) => compileDaemonOptions(parse(toml), '/etc/couic');

function problems(toml: string): string[] {
  try {
    compile(toml);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.message);
    throw error;
  }
  return [];
}

test('no [bus]: no bus options', (t) => {
  t.is(compile('').bus, undefined);
});

test('defaults: publish and consume, prefix couic, 1 replica, compaction past 64 MiB, no TLS, no auth', (t) => {
  const bus = compile('[bus]\nservers = ["nats://127.0.0.1:4222"]').bus;
  t.deepEqual(bus, { enabled: true, servers: ['nats://127.0.0.1:4222'], publish: true, consume: true, prefix: 'couic', replicas: 1, compactMinBytes: 64 * 1024 * 1024 });
});

test('compact_min_bytes sets the compaction threshold; out of range is named', (t) => {
  t.is(compile('[bus]\nservers = ["nats://n1"]\ncompact_min_bytes = 1048576').bus?.compactMinBytes, 1_048_576);
  t.regex(problems('[bus]\nservers = ["nats://n1"]\ncompact_min_bytes = 0').join('\n'), /bus\.compact_min_bytes: must be between 1 and \d+, got 0/);
});

test('TLS files resolve against the config folder; user/password auth', (t) => {
  const bus = compile('[bus]\nservers = ["nats://n1:4222", "tls://n2"]\nca = "ca.pem"\ncert = "/x/c.pem"\nkey = "k.pem"\nuser = "u"\npassword = "p"\nconsume = false').bus;
  t.deepEqual(bus?.tls, { caPath: '/etc/couic/ca.pem', certPath: '/x/c.pem', keyPath: '/etc/couic/k.pem' });
  t.deepEqual(bus?.auth, { kind: 'user', user: 'u', password: 'p' });
  t.false(bus?.consume);
});

test('a tls:// URL alone asks for TLS with the system CAs; token and creds', (t) => {
  t.deepEqual(compile('[bus]\nservers = ["tls://n1"]').bus?.tls, {});
  t.deepEqual(compile('[bus]\nservers = ["nats://n1"]\ntoken = "s3cret"').bus?.auth, { kind: 'token', token: 's3cret' });
  t.deepEqual(compile('[bus]\nservers = ["nats://n1"]\ncreds = "a.creds"').bus?.auth, { kind: 'creds', credsPath: '/etc/couic/a.creds' });
});

test('clear errors: missing servers, bad URL, bad prefix, both off, half a key pair, two auth methods', (t) => {
  t.deepEqual(problems('[bus]\npublish = true'), ['bus.servers: is required: at least one NATS server URL, e.g. ["nats://127.0.0.1:4222"]']);
  t.regex(problems('[bus]\nservers = ["http://x:4222"]').join('\n'), /bus\.servers\[0\]: expected a URL like "nats:\/\/host:4222"/);
  t.regex(problems('[bus]\nservers = ["nats://x:99999"]').join('\n'), /bus\.servers\[0\]: port must be between 1 and 65535/);
  t.regex(problems('[bus]\nservers = ["nats://x"]\nprefix = "a.b"').join('\n'), /bus\.prefix: expected 1-32 characters/);
  t.regex(problems('[bus]\nservers = ["nats://x"]\npublish = false\nconsume = false').join('\n'), /bus\.publish: publish and consume are both false/);
  t.regex(problems('[bus]\nservers = ["nats://x"]\ncert = "c.pem"').join('\n'), /bus\.key: is required when bus\.cert is set/);
  t.regex(problems('[bus]\nservers = ["nats://x"]\nuser = "u"\npassword = "p"\ntoken = "t"').join('\n'), /choose one authentication method, got user\/password and token/);
  t.regex(problems('[bus]\nservers = ["nats://x"]\nuser = "u"').join('\n'), /bus\.password: is required when bus\.user is set/);
  t.regex(problems('[bus]\nservers = ["nats://x"]\nreplicas = 7').join('\n'), /bus\.replicas/);
  t.regex(problems('[bus]\nservers = ["nats://x"]\nserver = "nats://y"').join('\n'), /unknown key "server" in \[bus\]/);
});

test('enabled = false needs no servers', (t) => {
  t.false(compile('[bus]\nenabled = false').bus?.enabled);
});
