// A dynamic gRPC server-reflection client (grpc.reflection.v1) loaded with
// @grpc/proto-loader, as generic tools like grpcurl would use it.
import { credentials, loadPackageDefinition, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

interface ReflectionRequest {
  list_services?: string;
  file_containing_symbol?: string;
}

export interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

interface ReflectionClient {
  ServerReflectionInfo(): ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
  close(): void;
}

type ReflectionClientConstructor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => ReflectionClient;

const PROTO_PATH = fileURLToPath(new URL('../../proto/grpc/reflection/v1/reflection.proto', import.meta.url));

function loadConstructor(): ReflectionClientConstructor {
  const definition = loadSync(PROTO_PATH, { keepCase: true, defaults: true, oneofs: true });
  const loaded = loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ReflectionClientConstructor } } };
  };
  return loaded.grpc.reflection.v1.ServerReflection;
}

/** Sends one reflection request over the Unix socket and returns the single answer. */
export async function reflect(socketPath: string, request: ReflectionRequest, timeoutMs = 5_000): Promise<ReflectionResponse> {
  const Client = loadConstructor();
  const client = new Client(`unix:${socketPath}`, credentials.createInsecure());
  try {
    return await new Promise<ReflectionResponse>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      const timer = setTimeout(() => {
        call.cancel();
        reject(new Error(`no reflection answer within ${timeoutMs} ms`));
      }, timeoutMs);
      call.on('data', (response: ReflectionResponse) => {
        clearTimeout(timer);
        resolve(response);
        call.end();
      });
      call.on('error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      call.write(request);
    });
  } finally {
    client.close();
  }
}

/** Service names the server lists through reflection. */
export async function listServices(socketPath: string): Promise<string[]> {
  const answer = await reflect(socketPath, { list_services: '*' });
  return (answer.list_services_response?.service ?? []).map((s) => s.name);
}
