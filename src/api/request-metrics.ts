// gRPC server request metrics, as a nice-grpc middleware: calls started and handled by
// service, method, type and status code, and a latency histogram (names as the common
// go-grpc-prometheus / grpc-ecosystem convention, so existing dashboards apply). The
// metric objects live in no registry of their own: createMetricsRegistry (src/metrics)
// registers them beside the other couic metrics.
import { ServerError, Status, type ServerMiddleware } from 'nice-grpc';
import { Counter, Histogram } from 'prom-client';

const LABELS = ['grpc_service', 'grpc_method', 'grpc_type'] as const;

/** Seconds; from sub-millisecond single-rule calls to multi-second 262,144-rule batches and streams. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface GrpcRequestMetrics {
  readonly started: Counter<(typeof LABELS)[number]>;
  readonly handled: Counter<(typeof LABELS)[number] | 'grpc_code'>;
  readonly handlingSeconds: Histogram<(typeof LABELS)[number] | 'grpc_code'>;
}

export function createGrpcRequestMetrics(): GrpcRequestMetrics {
  return {
    started: new Counter({
      name: 'grpc_server_started_total',
      help: 'gRPC calls started on the server, by service, method and type.',
      labelNames: LABELS,
      registers: [],
    }),
    handled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed on the server, by service, method, type and status code.',
      labelNames: [...LABELS, 'grpc_code'],
      registers: [],
    }),
    handlingSeconds: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from the start of a gRPC call to its status (whole stream for streaming calls), in seconds.',
      labelNames: [...LABELS, 'grpc_code'],
      buckets: LATENCY_BUCKETS,
      registers: [],
    }),
  };
}

/** The daemon's one set (one process, one API): its gRPC servers count into it. */
export const grpcRequestMetrics = createGrpcRequestMetrics();

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
export function requestMetricsMiddleware(metrics: GrpcRequestMetrics = grpcRequestMetrics): ServerMiddleware {
  return async function* measureRequest(call, context) {
    const [grpcService, grpcMethod] = splitMethodPath(call.method.path);
    const labels = { grpc_service: grpcService, grpc_method: grpcMethod, grpc_type: callType(call.method.requestStream, call.method.responseStream) };
    metrics.started.inc(labels);
    const startedAt = process.hrtime.bigint();
    let code = Status.OK;
    try {
      return yield* call.next(call.request, context);
    } catch (error: unknown) {
      code = statusOf(error);
      throw error;
    } finally {
      const withCode = { ...labels, grpc_code: Status[code] ?? String(code) };
      metrics.handled.inc(withCode);
      metrics.handlingSeconds.observe(withCode, Number(process.hrtime.bigint() - startedAt) / 1e9);
    }
  };
}
