// Head sampler: ParentBased around a rule sampler. Root spans marked critical are always kept;
// everything else is kept with the per-environment ratio (src/signals/telemetry.ts). The standard
// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG variables override the whole choice.
//
// Why head sampling cannot know a 403 in advance, and what we do about it:
// the decision is taken when the SERVER span starts, before the handler has read the object's
// owner and visibility from S3, so "this request will end in 403" is not knowable yet. We cover
// the gap three ways: (1) what *is* knowable up front is flagged critical by instrumentFastify's
// `critical(req)` callback (the API marks video requests without valid credentials, i.e. every
// future 401 and every anonymous 403), plus the ALWAYS_SAMPLED_ROUTES (uploads, webhooks);
// (2) metrics are never sampled, so every 403/5xx is counted exactly in
// http_server_request_duration_seconds and alerts stay exact at any ratio; (3) every log line
// carries the trace id even when the trace was not sampled, so the request is still findable in
// Loki. Keeping every error trace requires tail sampling (the collector's tail_sampling
// processor), which is a deployment choice, not something a head sampler can do.
import { createContextKey, ROOT_CONTEXT, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';
import { ALWAYS_SAMPLED_HINT_ATTRIBUTE, ALWAYS_SAMPLED_ROUTES, SAMPLING_RATIO, type DeploymentEnvironment } from '../signals/index.ts';

const ROUTE_ATTRIBUTE = 'http.route';
const alwaysSampledRoutes = new Set<string>(ALWAYS_SAMPLED_ROUTES);
const SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });

/**
 * Root-span rule: critical (attribute `sampling.priority` > 0, or an always-sampled route
 * template in `http.route`) -> sampled; otherwise TraceIdRatioBased(ratio).
 */
export class CriticalRouteSampler implements Sampler {
  readonly ratio: number;
  private readonly ratioSampler: Sampler;

  constructor(ratio: number) {
    this.ratio = ratio;
    this.ratioSampler = new TraceIdRatioBasedSampler(ratio);
  }

  shouldSample(context: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (context.getValue(HEAD_SAMPLED_KEY) === true) return SAMPLED;
    const priority = attributes[ALWAYS_SAMPLED_HINT_ATTRIBUTE];
    if (typeof priority === 'number' ? priority > 0 : priority === true) return SAMPLED;
    const route = attributes[ROUTE_ATTRIBUTE];
    if (typeof route === 'string' && alwaysSampledRoutes.has(route)) return SAMPLED;
    // At ratio 1 the ratio sampler would parse the trace id for a foregone answer.
    if (this.ratio >= 1) return SAMPLED;
    return this.ratioSampler.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `CriticalRouteSampler{routes=[${ALWAYS_SAMPLED_ROUTES.join(',')}], ratio=${this.ratio}}`;
  }
}

/** Parses a ratio argument; undefined when absent or not a number in [0, 1]. */
function parseRatio(arg: string | undefined): number | undefined {
  if (arg === undefined || arg.trim() === '') return undefined;
  const r = Number(arg);
  return Number.isFinite(r) && r >= 0 && r <= 1 ? r : undefined;
}

export function isDeploymentEnvironment(v: string | undefined): v is DeploymentEnvironment {
  return v === 'development' || v === 'staging' || v === 'production';
}

/**
 * The sampler for `environment`, honouring OTEL_TRACES_SAMPLER (always_on, always_off,
 * traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio) and
 * OTEL_TRACES_SAMPLER_ARG. With only OTEL_TRACES_SAMPLER_ARG set, our rule sampler keeps its
 * critical-route rule and uses that ratio for the rest.
 */
export function createSampler(environment: DeploymentEnvironment, env: NodeJS.ProcessEnv = process.env): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  const arg = parseRatio(env.OTEL_TRACES_SAMPLER_ARG);
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(arg ?? 1);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(arg ?? 1) });
    default: {
      const ratio = arg ?? SAMPLING_RATIO[environment];
      const sampler = new ParentBasedSampler({ root: new CriticalRouteSampler(ratio) });
      rootRatios.set(sampler, ratio);
      return sampler;
    }
  }
}

const rootRatios = new WeakMap<Sampler, number>();

const HEAD_SAMPLED_KEY = createContextKey('video-platform.head-sampled');
/**
 * Parent context for a root span whose ratio decision was already taken (and came out
 * sampled) by the caller: CriticalRouteSampler keeps it instead of rolling the ratio again.
 * Only the span's start sees it; the request's own context is built from ROOT_CONTEXT.
 */
export const HEAD_SAMPLED_CONTEXT: Context = ROOT_CONTEXT.setValue(HEAD_SAMPLED_KEY, true);

/**
 * The ratio a non-critical root span is kept with, when `sampler` is our default composition
 * (ParentBased around CriticalRouteSampler); undefined for any other sampler. It lets the HTTP
 * hooks take that same decision before asking the SDK, so an unsampled request never builds an
 * SDK span (ids, sampler chain, span self-metrics): see http-server.ts.
 */
export function rootRatioOf(sampler: Sampler): number | undefined {
  return rootRatios.get(sampler);
}
