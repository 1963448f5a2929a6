// grpc-js answers a request body that fails to decode with INTERNAL, which blames the
// server for the client's bytes (e.g. an int64 expiration beyond 2^53). Decoding is
// made tolerant here and the failure surfaces as INVALID_ARGUMENT in the middleware.
import { InvalidArgumentError } from '../domain/errors.js';

const UNDECODABLE = Symbol('undecodable request');

interface Decodable {
  decode(input: Uint8Array): unknown;
}

interface MethodWithRequest {
  readonly requestType: Decodable;
}

interface ServiceWithMethods {
  readonly methods: Readonly<Record<string, MethodWithRequest>>;
}

/** A copy of a ts-proto service definition whose request decoding never throws. */
export function withTolerantDecoding<D extends ServiceWithMethods>(definition: D): D {
  const methods: Record<string, MethodWithRequest> = {};
  for (const [name, method] of Object.entries(definition.methods)) {
    const { requestType } = method;
    methods[name] = {
      ...method,
      requestType: {
        ...requestType,
        decode(input: Uint8Array): unknown {
          try {
            return requestType.decode(input);
          } catch (error) {
            return { [UNDECODABLE]: error instanceof Error ? error.message : String(error) };
          }
        },
      },
    };
  }
  return { ...definition, methods } as D;
}

/** Throws INVALID_ARGUMENT when `request` is the marker left by a failed decode. */
export function rejectUndecodable(request: unknown): void {
  if (typeof request === 'object' && request !== null && UNDECODABLE in request) {
    const reason = (request as Record<typeof UNDECODABLE, string>)[UNDECODABLE];
    const hint = /SAFE_INTEGER/.test(reason) ? ' (int64 fields such as expiration must lie within +-2^53)' : '';
    throw InvalidArgumentError.single('request', `cannot be decoded: ${reason}${hint}`);
  }
}
