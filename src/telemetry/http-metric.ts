// A prom-client-compatible histogram for the hot path: each label set is a pre-bound series
// (no label validation, hashing or object building per observation), with OpenMetrics
// exemplars. It is registered in the shared registry like any prom-client metric, so /metrics
// renders it the same way; prom-client stays the one metrics path.
import type client from 'prom-client';
import { EXEMPLAR_LABELS } from '../signals/index.ts';
import { registry } from './metrics.ts';

/**
 * A bucket's exemplar. A class that keeps the ids and builds the label set only when /metrics is
 * rendered: the hot path allocates nothing (no literal that V8 could pretenure into old space).
 */
class Exemplar {
  traceId: string;
  spanId: string;
  value: number;
  timestamp: number;

  constructor(traceId: string, spanId: string, value: number, timestamp: number) {
    this.traceId = traceId;
    this.spanId = spanId;
    this.value = value;
    this.timestamp = timestamp;
  }

  /** Read by prom-client's OpenMetrics rendering. */
  get labelSet(): Record<string, string> {
    return { [EXEMPLAR_LABELS.traceId]: this.traceId, [EXEMPLAR_LABELS.spanId]: this.spanId };
  }
}

/** One label set of the histogram: observe() is a few array operations. */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  private readonly bounds: readonly number[];
  /** Non-cumulative counts; index bounds.length is the +Inf overflow. */
  readonly counts: Float64Array;
  readonly exemplars: (Exemplar | undefined)[];
  sum = 0;
  count = 0;

  constructor(labels: Record<string, string>, bounds: readonly number[]) {
    this.labels = labels;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
    this.exemplars = new Array<Exemplar | undefined>(bounds.length + 1);
  }

  private index(value: number): number {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    return i;
  }

  observe(value: number): void {
    this.counts[this.index(value)]!++;
    this.sum += value;
    this.count++;
  }

  /** Observes `value` and keeps it as the bucket's exemplar (trace_id, span_id). */
  observeWithExemplar(value: number, traceId: string, spanId: string): void {
    const i = this.index(value);
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    const ex = this.exemplars[i];
    const timestamp = Date.now() / 1000;
    if (ex) {
      ex.traceId = traceId;
      ex.spanId = spanId;
      ex.value = value;
      ex.timestamp = timestamp;
    } else this.exemplars[i] = new Exemplar(traceId, spanId, value, timestamp);
  }
}

export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly string[];
  private readonly bounds: readonly number[];
  private series: HistogramSeries[] = [];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  /** A new series for `labels` (callers cache it; values must be bounded). */
  child(labels: Record<string, string>): HistogramSeries {
    const s = new HistogramSeries(labels, this.bounds);
    this.series.push(s);
    return s;
  }

  reset(): void {
    for (const s of this.series) {
      s.counts.fill(0);
      s.exemplars.fill(undefined);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** prom-client's MetricObject shape, read by Registry.metrics(). */
  get(): { name: string; help: string; type: string; values: client.MetricValueWithName<string>[]; aggregator: string } {
    const values: client.MetricValueWithName<string>[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const s of this.series) {
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        acc += s.counts[i]!;
        const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
        const v: client.MetricValueWithName<string> & { exemplar?: Exemplar } = { labels: { ...s.labels, le }, value: acc, metricName: bucketName };
        const ex = s.exemplars[i];
        if (ex) v.exemplar = ex;
        values.push(v);
      }
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** Creates and registers the histogram once per process (idempotent across SDK restarts). */
export function fastHistogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): FastHistogram {
  const existing = registry.getSingleMetric(name) as unknown;
  if (existing instanceof FastHistogram) return existing;
  const h = new FastHistogram(name, help, labelNames, buckets);
  registry.registerMetric(h as unknown as client.Metric);
  return h;
}
