import test from 'ava';
import fc from 'fast-check';
import { checkHost, formatHostPort, parseHostPort } from '../../../src/domain/host-port.js';

const accepted: Array<[string, string, number]> = [
  ['127.0.0.1:2900', '127.0.0.1', 2900],
  ['0.0.0.0:1', '0.0.0.0', 1],
  ['localhost:65535', 'localhost', 65535],
  ['couic1.couic.tld:2900', 'couic1.couic.tld', 2900],
  ['[::1]:2900', '::1', 2900],
  ['[::]:9901', '::', 9901],
  ['[2001:db8::1]:443', '2001:db8::1', 443],
];

for (const [text, host, port] of accepted) {
  test(`parses ${text}`, (t) => {
    t.deepEqual(parseHostPort(text), { ok: true, value: { host, port } });
  });
}

const refused: Array<[string, RegExp]> = [
  ['abc', /^expected "HOST:PORT", got "abc"$/],
  ['127.0.0.1', /got "127.0.0.1"$/],
  [':2900', /host must not be empty/],
  ['127.0.0.1:', /expected "HOST:PORT"/],
  ['127.0.0.1:0', /port must be between 1 and 65535, got 0/],
  ['127.0.0.1:65536', /port must be between 1 and 65535, got 65536/],
  ['127.0.0.1:123456', /expected "HOST:PORT"/],
  ['127.0.0.1:-1', /expected "HOST:PORT"/],
  ['127.0.0.1:29a', /expected "HOST:PORT"/],
  ['::1:2900', /write IPv6 addresses in brackets/],
  ['[127.0.0.1]:2900', /only IPv6 addresses go in brackets/],
  ['[::1:2900', /expected "HOST:PORT"/],
  ['host name:2900', /host expected a host name or IP address/],
  ['-bad.example:2900', /host expected a host name/],
  [' 127.0.0.1:2900', /host expected a host name/],
];

for (const [text, pattern] of refused) {
  test(`refuses ${JSON.stringify(text)}`, (t) => {
    const result = parseHostPort(text);
    t.false(result.ok);
    if (!result.ok) t.regex(result.reason, pattern);
  });
}

test('port 0 is allowed when asked for (listeners picking a free port)', (t) => {
  t.deepEqual(parseHostPort('127.0.0.1:0', 0), { ok: true, value: { host: '127.0.0.1', port: 0 } });
});

test('checkHost accepts names and addresses, refuses junk', (t) => {
  t.is(checkHost('couic2.couic.tld'), undefined);
  t.is(checkHost('couic2.couic.tld.'), undefined);
  t.is(checkHost('fe80::1'), undefined);
  t.regex(checkHost('a..b') ?? '', /expected a host name/);
  t.regex(checkHost(`${'a'.repeat(64)}.tld`) ?? '', /expected a host name/);
  t.regex(checkHost('') ?? '', /must not be empty/);
});

test('format then parse gives the same address back', (t) => {
  const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
  fc.assert(
    fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
      const parsed = parseHostPort(formatHostPort({ host: h, port }));
      t.true(parsed.ok);
      return parsed.ok && parsed.value.host === h && parsed.value.port === port;
    }),
  );
});
