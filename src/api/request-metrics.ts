// gRPC server request metrics, as a nice-grpc middleware: every call is reported to an
// observer (started; then handled, with the status the caller got and the time it
// took), which the daemon backs with the Prometheus metrics of src/metrics.
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc';

/** The labels of one call. */
export interface GrpcCallLabels {
  readonly grpc_service: string;
  readonly grpc_method: string;
  readonly grpc_type: string;
}

/** Where calls are reported (metrics/grpc-request-metrics.ts in the daemon). */
export interface GrpcCallObserver {
  started(labels: GrpcCallLabels): void;
  handled(labels: GrpcCallLabels, code: string, seconds: number): void;
}

function callType(requestStream: boolean, responseStream: boolean): string {
  if (requestStream) return responseStream ? 'bidi_stream' : 'client_stream';
  return responseStream ? 'server_stream' : 'unary';
}

/** `/couic.v1.RulesService/AddRule` -> ['couic.v1.RulesService', 'AddRule']. */
export function splitMethodPath(path: string): [string, string] {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? ['unknown', path] : [path.slice(1, slash), path.slice(slash + 1)];
}

function statusOf(error: unknown): Status {
  if (error instanceof ServerError) return error.code;
  // The client went away (nice-grpc aborts the handler's signal).
  if (error instanceof Error && error.name === 'AbortError') return Status.CANCELLED;
  return Status.UNKNOWN;
}

/** Outermost middleware: sees the status the caller gets (after error mapping). */
export function requestMetricsMiddleware(observer: GrpcCallObserver): ServerMiddleware {
  return async function* measureRequest(call, context) {
    const [grpcService, grpcMethod] = splitMethodPath(call.method.path);
    const labels = { grpc_service: grpcService, grpc_method: grpcMethod, grpc_type: callType(call.method.requestStream, call.method.responseStream) };
    observer.started(labels);
    const startedAt = process.hrtime.bigint();
    let code = Status.OK;
    try {
      return yield* call.next(call.request, context);
    } catch (error: unknown) {
      code = statusOf(error);
      throw error;
    } finally {
      observer.handled(labels, Status[code] ?? String(code), Number(process.hrtime.bigint() - startedAt) / 1e9);
    }
  };
}
