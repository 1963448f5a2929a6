// grpc-js answers a request body that fails to decode with INTERNAL, which blames the
// server for the client's bytes. Decoding is made tolerant here and the failure
// surfaces as INVALID_ARGUMENT in the error-mapping middleware.
//
// The usual case is an int64 beyond 2^53: the generated codecs (ts-proto, numbers for
// int64) cannot hold it, and Python, Go and Java clients send 2^63-1 as "far future".
// Such a request is decoded a second time, by descriptor (@bufbuild/protobuf, int64 as
// bigint, so the whole range decodes), to name each field out of range:
// `rules[0].expiration: 9223372036854775807 is out of range (...)`.
import { readFileSync } from 'node:fs';
import { createFileRegistry, type DescMessage, type FileRegistry, fromBinary, ScalarType } from '@bufbuild/protobuf';
import { isReflectList, isReflectMap, isReflectMessage, type ReflectMessage, reflect } from '@bufbuild/protobuf/reflect';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { type FieldViolation, InvalidArgumentError } from '../domain/errors.js';

const UNDECODABLE = Symbol('undecodable request');

const PROTOSET_URL = new URL('../../src/generated/couic.protoset', import.meta.url);

interface Decodable {
  decode(input: Uint8Array): unknown;
}

interface MethodWithRequest {
  readonly name?: string;
  readonly requestType: Decodable;
}

interface ServiceWithMethods {
  readonly fullName?: string;
  readonly methods: Readonly<Record<string, MethodWithRequest>>;
}

const INT64_TYPES = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_REPORTED = 5;

let registry: FileRegistry | undefined;
/** Read only when a request fails to decode (never on the normal path). */
function descriptors(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(PROTOSET_URL)));
  return registry;
}

function isOutOfRange(value: unknown): value is bigint {
  return typeof value === 'bigint' && (value > MAX_SAFE || value < -MAX_SAFE);
}

/** Every int64 field beyond +-(2^53-1), with its path (`rules[3].expiration`). */
export function int64Violations(message: ReflectMessage, prefix = '', found: FieldViolation[] = []): FieldViolation[] {
  for (const field of message.fields) {
    if (found.length >= MAX_REPORTED || !message.isSet(field)) continue;
    const path = `${prefix}${field.name}`;
    const value: unknown = message.get(field);
    const check = (item: unknown, at: string): void => {
      if (isOutOfRange(item)) {
        found.push({ field: at, message: `${item} is out of range: int64 values must lie within +-(2^53-1) = +-9007199254740991` });
      } else if (isReflectMessage(item)) {
        int64Violations(item, `${at}.`, found);
      }
    };
    if (isReflectList(value)) {
      let index = 0;
      for (const item of value) check(item, `${path}[${index++}]`);
    } else if (isReflectMap(value)) {
      for (const [key, item] of value) check(item, `${path}[${String(key)}]`);
    } else if ((field.fieldKind === 'scalar' && INT64_TYPES.has(field.scalar)) || field.fieldKind === 'message') {
      check(value, path);
    }
  }
  return found;
}

/** Why `input` (a `requestSchema` message) did not decode, as field violations when known. */
export function explainUndecodable(requestSchema: DescMessage | undefined, input: Uint8Array, reason: string): InvalidArgumentError {
  if (requestSchema !== undefined) {
    try {
      const violations = int64Violations(reflect(requestSchema, fromBinary(requestSchema, input)));
      if (violations.length > 0) return new InvalidArgumentError(violations);
    } catch {
      // Not valid protobuf at all: the generic message below.
    }
  }
  return InvalidArgumentError.single('request', `cannot be decoded: ${reason}`);
}

function requestSchemaOf(serviceName: string | undefined, methodName: string | undefined): DescMessage | undefined {
  if (serviceName === undefined || methodName === undefined) return undefined;
  try {
    return descriptors()
      .getService(serviceName)
      ?.methods.find((m) => m.name === methodName)?.input;
  } catch {
    return undefined;
  }
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
            const reason = error instanceof Error ? error.message : String(error);
            return { [UNDECODABLE]: explainUndecodable(requestSchemaOf(definition.fullName, method.name), input, reason) };
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
    throw (request as Record<typeof UNDECODABLE, InvalidArgumentError>)[UNDECODABLE];
  }
}
