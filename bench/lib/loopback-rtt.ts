// Loopback TCP round trip, the network floor of every figure measured between local
// processes: a 1-byte ping-pong over 127.0.0.1 with Nagle off, in this process.
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { summarize, type Summary } from './stats.js';

export async function measureLoopbackRtt(roundTrips = 1_000): Promise<Summary> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (data) => socket.write(data));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = createConnection({ host: '127.0.0.1', port });
  client.setNoDelay(true);
  await once(client, 'connect');
  const samples: number[] = [];
  try {
    for (let i = 0; i < roundTrips; i++) {
      const started = performance.now();
      const answered = once(client, 'data');
      client.write('x');
      await answered;
      samples.push(performance.now() - started);
    }
  } finally {
    client.destroy();
    server.close();
  }
  return summarize(samples);
}
