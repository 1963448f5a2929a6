// The same-run baseline: a bare grpc-js server (no nice-grpc, no auth, no store)
// serving couic.v1.RulesService/AddRule and /AddRules with the generated message
// codecs, so it decodes exactly the bytes the daemon decodes and answers with a
// response of the same shape. Whatever couic spends beyond this is couic's own cost.
//
// Run as a child process: `node --import tsx bench/lib/echo-server.ts <socket path> [<cert> <key>]`;
// once listening it prints `echo server listening on <socket path>` (and ` tls port <N>`,
// the loopback port it bound).
import { readFile } from 'node:fs/promises';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { EntrySource } from '../../src/generated/couic/v1/entry.js';
import { AddRuleRequest, AddRuleResponse, AddRulesRequest, AddRulesResponse } from '../../src/generated/couic/v1/rules.js';
import { isMain } from './is-main.js';
import { BENCH_MAX_MESSAGE_BYTES } from './endpoint.js';

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

function unary<Req, Res>(method: string, request: Codec<Req>, response: Codec<Res>) {
  return {
    path: `/couic.v1.RulesService/${method}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (message: Req) => Buffer.from(request.encode(message).finish()),
    requestDeserialize: (bytes: Buffer) => request.decode(bytes),
    responseSerialize: (message: Res) => Buffer.from(response.encode(message).finish()),
    responseDeserialize: (bytes: Buffer) => response.decode(bytes),
  } as const;
}

export const EchoRulesService = {
  AddRule: unary('AddRule', AddRuleRequest, AddRuleResponse),
  AddRules: unary('AddRules', AddRulesRequest, AddRulesResponse),
} satisfies ServiceDefinition;

export interface EchoTls {
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
}

/** Serves on the Unix socket, and with `tls` on a loopback port it binds (returned as tlsPort). */
export async function startEchoServer(socketPath: string, tls?: EchoTls): Promise<{ server: Server; tlsPort?: number }> {
  const server = new Server({
    'grpc.max_receive_message_length': BENCH_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': BENCH_MAX_MESSAGE_BYTES,
  });
  server.addService(EchoRulesService, {
    AddRule: (call: ServerUnaryCall<AddRuleRequest, AddRuleResponse>, callback: sendUnaryData<AddRuleResponse>) => {
      const rule = call.request.rule;
      callback(null, {
        entry: {
          policy: rule?.policy ?? 0,
          cidr: rule?.cidr ?? '',
          tag: rule?.tag ?? '',
          expiration: rule?.expiration ?? 0,
          createdAt: Math.floor(Date.now() / 1000),
          originNode: 'echo',
          metadata: rule?.metadata,
          source: EntrySource.ENTRY_SOURCE_API,
        },
      });
    },
    AddRules: (call: ServerUnaryCall<AddRulesRequest, AddRulesResponse>, callback: sendUnaryData<AddRulesResponse>) => {
      callback(null, { added: call.request.rules.length, replaced: 0 });
    },
  });
  const bind = (address: string, credentials: ServerCredentials): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
    });
  await bind(`unix://${socketPath}`, ServerCredentials.createInsecure());
  if (tls === undefined) return { server };
  // Same TLS setup as the daemon's listener: server certificate, no client certificate.
  const tlsPort = await bind('127.0.0.1:0', ServerCredentials.createSsl(null, [{ cert_chain: tls.certPem, private_key: tls.keyPem }], false));
  return { server, tlsPort };
}

async function main(): Promise<void> {
  const [socketPath, certPath, keyPath] = process.argv.slice(2);
  if (socketPath === undefined) throw new Error('usage: echo-server.ts <socket path> [<cert> <key>]');
  const tls = certPath !== undefined && keyPath !== undefined ? { certPem: await readFile(certPath), keyPem: await readFile(keyPath) } : undefined;
  const { server, tlsPort } = await startEchoServer(socketPath, tls);
  process.stdout.write(`echo server listening on ${socketPath}${tlsPort !== undefined ? ` tls port ${tlsPort}` : ''}\n`);
  const stop = (): void => {
    server.tryShutdown(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`echo server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
