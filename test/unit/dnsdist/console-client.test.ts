// The console client against a console server written here from dnsdist's protocol
// (the real dnsdist is in test/integration/dnsdist.test.ts): nonce exchange, length-
// prefixed secretbox frames, per-frame nonce increments, a wrong key.
import test from 'ava';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import nacl from 'tweetnacl';
import { ByteReader } from '../../../src/dnsdist/console/byte-reader.js';
import { ConsoleClient } from '../../../src/dnsdist/console/console-client.js';
import { decodeConsoleKey, DirectionCipher } from '../../../src/dnsdist/console/console-cipher.js';
import { deriveNonces, incrementNonce, mergeNonces } from '../../../src/dnsdist/console/console-nonce.js';
import { ConsoleConnectionError } from '../../../src/dnsdist/console/console-port.js';

/** A console server: answers each command with `answer(command)`, as dnsdist's controlClientThread does. */
async function startServer(t: import('ava').ExecutionContext, key: Uint8Array, answer: (command: string) => string) {
  const received: string[] = [];
  const server = createServer((socket: Socket) => {
    const reader = new ByteReader();
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('close', () => reader.fail(new Error('closed')));
    socket.on('error', () => undefined);
    void (async () => {
      try {
        const theirs = new Uint8Array(await reader.read(24));
        const ours = new Uint8Array(randomBytes(24));
        socket.write(ours);
        const nonces = deriveNonces(ours, theirs);
        const inbound = new DirectionCipher(key, nonces.reading);
        const outbound = new DirectionCipher(key, nonces.writing);
        for (;;) {
          const length = (await reader.read(4)).readUInt32BE(0);
          if (length === 0) {
            socket.write(Buffer.alloc(4));
            continue;
          }
          const command = Buffer.from(inbound.open(new Uint8Array(await reader.read(length)))).toString('utf8');
          received.push(command);
          const sealed = outbound.seal(Buffer.from(answer(command), 'utf8'));
          const header = Buffer.alloc(4);
          header.writeUInt32BE(sealed.length);
          socket.write(Buffer.concat([header, sealed]));
        }
      } catch {
        socket.destroy(); // what dnsdist does on a frame it cannot decrypt
      }
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  return { port: (server.address() as AddressInfo).port, received };
}

const key = nacl.randomBytes(32);

test('merge takes the first half from one nonce and the second from the other', (t) => {
  const a = new Uint8Array(24).fill(1);
  const b = new Uint8Array(24).fill(2);
  t.deepEqual([...mergeNonces(a, b)], [...new Array(12).fill(1), ...new Array(12).fill(2)]);
  const both = deriveNonces(a, b);
  const other = deriveNonces(b, a);
  t.deepEqual(both.writing, other.reading, "one side's writing nonce is the other's reading nonce");
});

test('increment is a big-endian counter in the first 4 bytes that wraps', (t) => {
  const n = new Uint8Array(24);
  n.set([0, 0, 0, 0xff, 9]);
  incrementNonce(n);
  t.deepEqual([...n.subarray(0, 5)], [0, 0, 1, 0, 9]);
  n.set([0xff, 0xff, 0xff, 0xff]);
  incrementNonce(n);
  t.deepEqual([...n.subarray(0, 5)], [0, 0, 0, 0, 9], 'wraps without touching byte 4');
});

test('commands and answers round-trip, in order, over many frames', async (t) => {
  const server = await startServer(t, key, (c) => `echo ${c}\n`);
  const client = await ConsoleClient.connect({ host: '127.0.0.1', port: server.port, key });
  t.teardown(() => client.close());
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.run(`cmd(${i})`)));
  t.deepEqual(answers, Array.from({ length: 50 }, (_, i) => `echo cmd(${i})\n`));
  t.is(server.received[0], 'showVersion()', 'the key is proven with a first command');
  t.is(server.received.length, 51);
});

test('a large answer arrives whole', async (t) => {
  const big = 'x'.repeat(3 * 1024 * 1024);
  const server = await startServer(t, key, () => big);
  const client = await ConsoleClient.connect({ host: '127.0.0.1', port: server.port, key });
  t.teardown(() => client.close());
  t.is((await client.run('showDynBlocks()')).length, big.length);
});

test('a wrong key fails the connection with a clear error', async (t) => {
  const server = await startServer(t, key, () => 'ok');
  const error = await t.throwsAsync(ConsoleClient.connect({ host: '127.0.0.1', port: server.port, key: nacl.randomBytes(32) }), {
    instanceOf: ConsoleConnectionError,
  });
  t.regex(error?.message ?? '', /closed the connection \(wrong key/);
});

test('nothing listening: ConsoleConnectionError naming the address', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  const error = await t.throwsAsync(ConsoleClient.connect({ host: '127.0.0.1', port, key }), { instanceOf: ConsoleConnectionError });
  t.true(error?.message.includes(`127.0.0.1:${port}`));
});

test('console keys: base64 of 32 bytes, reasons never echo the value', (t) => {
  t.true(decodeConsoleKey(Buffer.from(key).toString('base64')) instanceof Uint8Array);
  const secret = Buffer.alloc(16, 7).toString('base64');
  const reason = decodeConsoleKey(secret);
  t.is(typeof reason, 'string');
  t.false(String(reason).includes(secret));
  t.regex(String(decodeConsoleKey('not base64!')), /must be base64/);
});
