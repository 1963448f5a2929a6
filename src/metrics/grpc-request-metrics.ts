// gRPC server request metrics: calls started and handled by service, method, type and
// status code, and a latency histogram (names as the common go-grpc-prometheus /
// grpc-ecosystem convention, so existing dashboards apply). The API's request-metrics
// middleware reports each call here (the daemon hands this object to both gRPC
// servers); createMetricsRegistry registers the metrics beside the other couic ones.
import { Counter, Histogram, type Registry } from 'prom-client';

const LABELS = ['grpc_service', 'grpc_method', 'grpc_type'] as const;

type CallLabels = Record<(typeof LABELS)[number], string>;

/** Seconds; from sub-millisecond single-rule calls to multi-second 262,144-rule batches and streams. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class GrpcRequestMetrics {
  private readonly startedCalls = new Counter({
    name: 'grpc_server_started_total',
    help: 'gRPC calls started on the server, by service, method and type.',
    labelNames: LABELS,
    registers: [],
  });
  private readonly handledCalls = new Counter({
    name: 'grpc_server_handled_total',
    help: 'gRPC calls completed on the server, by service, method, type and status code.',
    labelNames: [...LABELS, 'grpc_code'],
    registers: [],
  });
  private readonly handlingSeconds = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Time from the start of a gRPC call to its status (whole stream for streaming calls), in seconds.',
    labelNames: [...LABELS, 'grpc_code'],
    buckets: LATENCY_BUCKETS,
    registers: [],
  });

  started(labels: CallLabels): void {
    this.startedCalls.inc(labels);
  }

  handled(labels: CallLabels, code: string, seconds: number): void {
    const withCode = { ...labels, grpc_code: code };
    this.handledCalls.inc(withCode);
    this.handlingSeconds.observe(withCode, seconds);
  }

  registerIn(registry: Registry): void {
    registry.registerMetric(this.startedCalls);
    registry.registerMetric(this.handledCalls);
    registry.registerMetric(this.handlingSeconds);
  }
}
