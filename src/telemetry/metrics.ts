// The process's one Prometheus registry (OpenMetrics, so latency histograms carry trace_id
// exemplars). Metrics are never sampled: every request is counted whatever the trace ratio.
import { trace } from '@opentelemetry/api';
import client from 'prom-client';
import { EXEMPLAR_LABELS, LABEL_ENVIRONMENT, LABEL_SERVICE } from '../signals/index.ts';

export const registry = new client.Registry<client.OpenMetricsContentType>();
registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);

/** Sets the labels every metric of this process carries (service and environment). */
export function setDefaultLabels(service: string, environment: string): void {
  registry.setDefaultLabels({ [LABEL_SERVICE]: service, [LABEL_ENVIRONMENT]: environment });
}

export type Labels<K extends string> = Partial<Record<K, string | number>>;

export function histogram<K extends string>(
  name: string,
  help: string,
  labelNames: readonly K[],
  buckets: readonly number[],
  exemplars = true,
): client.Histogram<K> {
  return new client.Histogram<K>({
    name,
    help,
    labelNames,
    buckets: [...buckets],
    registers: [registry],
    enableExemplars: exemplars,
  });
}

export function counter<K extends string>(name: string, help: string, labelNames: readonly K[]): client.Counter<K> {
  return new client.Counter<K>({ name, help, labelNames, registers: [registry] });
}

export function gauge<K extends string>(
  name: string,
  help: string,
  labelNames: readonly K[],
  collect?: (this: client.Gauge<K>) => void | Promise<void>,
): client.Gauge<K> {
  return new client.Gauge<K>({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}

/** Observes a histogram value with the active sampled span's trace id as exemplar. */
export function observe<K extends string>(h: client.Histogram<K>, labels: Labels<K>, value: number): void {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (ctx && ctx.traceFlags & 1) {
    h.observe({ labels, value, exemplarLabels: { [EXEMPLAR_LABELS.traceId]: ctx.traceId, [EXEMPLAR_LABELS.spanId]: ctx.spanId } as Labels<K> });
  } else {
    // prom-client rejects the (labels, value) form on exemplar-enabled histograms.
    h.observe({ labels, value });
  }
}
