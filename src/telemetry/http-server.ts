// Our own cheap HTTP server instrumentation for Fastify (instead of instrumentation-http, which
// costs ~16 µs per request and adds a second request histogram). Per request it:
// - extracts the W3C trace context from the request headers (only when a traceparent is sent),
// - starts the SERVER span `<METHOD> <route template>` (`<METHOD>` alone for unmatched routes,
//   as the HTTP semantic conventions say), with the sampler seeing http.route and the
//   critical flag, and builds the remaining attributes only when the span is recording,
// - makes it the active context for the hooks and the handler,
// - returns the trace context to the client (`traceresponse`, `Server-Timing`),
// - ends the span when the response finishes (ERROR for 5xx) or the client aborts,
// - observes http_server_request_duration_seconds for every request, sampled or not (metrics
//   are never sampled), with a trace_id exemplar when the span is sampled.
// Authorization and cookie headers are never read into telemetry; URLs are redacted.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
// Imported: the global `performance` is an accessor Node calls on every use.
import { performance } from 'node:perf_hooks';
import {
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type TextMapGetter,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';
import {
  ALWAYS_SAMPLED_HINT_ATTRIBUTE,
  CLIENT_CLOSED_STATUS,
  DEFAULT_ROUTE_CLASS,
  ERROR_TYPE_CLIENT_ABORTED,
  TRACE_EXPOSED_HEADERS,
  ALWAYS_SAMPLED_ROUTES,
  HTTP_DURATION_BUCKETS,
  HTTP_LABELS,
  HTTP_SERVER_DURATION,
  HTTP_SERVER_DURATION_HELP,
  SERVER_TIMING_HEADER,
  TRACE_RESPONSE_HEADER,
  UNMATCHED_ROUTE,
  type RouteClass,
} from '../signals/index.ts';
import { fastHistogram, type FastHistogram, type HistogramSeries } from './http-metric.ts';
import { rootContexts, serverTimingValue } from './ids.ts';
import { redactString } from './redact.ts';
import { HEAD_SAMPLED_CONTEXT } from './sampler.ts';
import { telemetryState } from './state.ts';
import { getTracer } from './trace.ts';

// Re-exported for callers that import them from here.
export { CLIENT_CLOSED_STATUS, DEFAULT_ROUTE_CLASS, TRACE_EXPOSED_HEADERS };

export interface InstrumentFastifyOptions {
  /** Requests for which this returns true start a trace that is always sampled. */
  critical?: (request: FastifyRequest, route: string | undefined) => boolean;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

interface RouteInfo {
  /** The template (http.route), or undefined for unmatched requests. */
  template: string | undefined;
  /** The template is one of ALWAYS_SAMPLED_ROUTES. */
  critical: boolean;
  routeLabel: string;
  defaultClass: string;
  /** Per method: span name, sampler attributes (plain and critical). */
  byMethod: Map<string, { name: string; attrs: Attributes; criticalAttrs: Attributes }>;
  /** method -> route class -> status -> series */
  series: Map<string, Map<string, (HistogramSeries | undefined)[]>>;
}

// Per-request objects are class instances, not object literals: V8 may pretenure a literal's
// allocation site into old space, and an old object holding this request's fresh id strings keeps
// them alive through every scavenge until the next full GC (measured: scavenges of 3-5 ms instead
// of 0.4-0.6 ms and the old generation growing ~2 MB/s under load; docs/benchmarks.md).
class RequestState {
  span: Span;
  ctx: Context;
  readonly start: number;
  readonly route: RouteInfo;
  readonly method: string;
  routeClass: string;

  constructor(span: Span, ctx: Context, start: number, route: RouteInfo, method: string) {
    this.span = span;
    this.ctx = ctx;
    this.start = start;
    this.route = route;
    this.method = method;
    this.routeClass = route.defaultClass;
  }
}

/** The span context of an unsampled root request (W3C ids, flags 00). */
class UnsampledSpanContext implements SpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags = TraceFlags.NONE;

  constructor(traceId: string, spanId: string) {
    this.traceId = traceId;
    this.spanId = spanId;
  }
}

// The API's span key (createContextKey is Symbol.for, so this is the same symbol trace.getSpan reads).
const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * The active context of a request without a parent context: it holds only the request's span,
 * so it costs one small object instead of a Map copy. Any write falls back to a regular context.
 */
class RootRequestContext implements Context {
  private readonly span: Span;

  constructor(span: Span) {
    this.span = span;
  }

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return trace.setSpan(ROOT_CONTEXT, this.span).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : this;
  }
}

/** trace.setSpan, with the light context for root requests (checked once against the API). */
const lightRootContext = ((): boolean => {
  const probe = trace.wrapSpanContext(new UnsampledSpanContext('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'));
  return trace.getSpan(new RootRequestContext(probe)) === probe;
})();

function requestContext(parent: Context, span: Span): Context {
  return parent === ROOT_CONTEXT && lightRootContext ? new RootRequestContext(span) : trace.setSpan(parent, span);
}

const kState = Symbol('otel.http.state');
/**
 * What the sampler sees at span start. Only critical requests carry an attribute (sampling
 * priority): the SDK copies start attributes for every span, sampled or not, so the others
 * start bare and get their attributes only once the span is known to be recording.
 */
const CRITICAL_ATTRS: Attributes = Object.freeze({ [ALWAYS_SAMPLED_HINT_ATTRIBUTE]: 1 });
const alwaysSampledRoutes = new Set<string>(ALWAYS_SAMPLED_ROUTES);
type WithState = { [kState]?: RequestState | undefined };

// The state lives on Node's own request and response objects (one class each, so property
// access stays monomorphic), not on Fastify's per-plugin Request classes.
function stateOf(request: FastifyRequest): RequestState | undefined {
  return (request.raw as IncomingMessage & WithState)[kState];
}

const SERVER_SPAN = Object.freeze({ kind: SpanKind.SERVER });

/** Methods whose requests Fastify never parses a body for. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'TRACE']);
type RouteHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

/** preValidation on body routes: the handler and later hooks run in the request's context. */
function otelReenterContext(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const st = stateOf(request);
  if (st && context.active() !== st.ctx) context.with(st.ctx, done);
  else done();
}

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

let histogram: FastHistogram | undefined;
function httpHistogram(): FastHistogram {
  histogram ??= fastHistogram(HTTP_SERVER_DURATION, HTTP_SERVER_DURATION_HELP, Object.values(HTTP_LABELS), HTTP_DURATION_BUCKETS);
  return histogram;
}

function sdkDisabled(): boolean {
  return process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

/** Overrides the route class (latency objective group) of this request's metric. */
export function setRouteClass(request: FastifyRequest, routeClass: RouteClass | string): void {
  const st = stateOf(request);
  if (st) st.routeClass = routeClass;
}

/** The SERVER span of this request (also the active span inside its handler). */
export function getServerSpan(request: FastifyRequest): Span | undefined {
  return stateOf(request)?.span;
}

/** See instrumentFastify: the socket caches its peer address (and takes its final shape) here. */
function readPeerAddressOnce(socket: Socket): void {
  void socket.remoteAddress;
}

function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  return `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
}

/**
 * Instruments `app` (call it before registering routes). A no-op when OTEL_SDK_DISABLED=true,
 * so the same app runs as the uninstrumented baseline.
 */
export function instrumentFastify(app: FastifyInstance, options: InstrumentFastifyOptions = {}): void {
  if (sdkDisabled()) return;
  const critical = options.critical;
  const hist = httpHistogram();
  const routes = new Map<string, RouteInfo>();
  let unmatched: RouteInfo | undefined;

  function routeInfo(request: FastifyRequest): RouteInfo {
    const template = request.routeOptions.url;
    if (template === undefined) {
      unmatched ??= { template: undefined, critical: false, routeLabel: UNMATCHED_ROUTE, defaultClass: UNMATCHED_ROUTE, byMethod: new Map(), series: new Map() };
      return unmatched;
    }
    let info = routes.get(template);
    if (!info) {
      const cfg = request.routeOptions.config as { routeClass?: string } | undefined;
      info = { template, critical: alwaysSampledRoutes.has(template), routeLabel: template, defaultClass: cfg?.routeClass ?? DEFAULT_ROUTE_CLASS, byMethod: new Map(), series: new Map() };
      routes.set(template, info);
    }
    return info;
  }

  function methodInfo(route: RouteInfo, method: string): { name: string; attrs: Attributes; criticalAttrs: Attributes } {
    let m = route.byMethod.get(method);
    if (!m) {
      const attrs: Attributes = route.template === undefined ? { 'http.request.method': method } : { 'http.request.method': method, 'http.route': route.template };
      m = { name: route.template === undefined ? method : `${method} ${route.template}`, attrs: Object.freeze(attrs), criticalAttrs: CRITICAL_ATTRS };
      route.byMethod.set(method, m);
    }
    return m;
  }

  function seriesFor(st: RequestState, status: number): HistogramSeries {
    const route = st.route;
    let byClass = route.series.get(st.method);
    if (!byClass) route.series.set(st.method, (byClass = new Map()));
    let byStatus = byClass.get(st.routeClass);
    if (!byStatus) byClass.set(st.routeClass, (byStatus = []));
    let s = byStatus[status];
    if (!s) {
      s = hist.child({
        [HTTP_LABELS.method]: st.method,
        [HTTP_LABELS.route]: route.routeLabel,
        [HTTP_LABELS.status]: String(status),
        [HTTP_LABELS.routeClass]: st.routeClass,
      });
      byStatus[status] = s;
    }
    return s;
  }

  function finish(st: RequestState, status: number, aborted: boolean): void {
    const seconds = (performance.now() - st.start) / 1000;
    const span = st.span;
    const sc = span.spanContext();
    if (sc.traceFlags & 1) seriesFor(st, status).observeWithExemplar(seconds, sc.traceId, sc.spanId);
    else seriesFor(st, status).observe(seconds);
    if (span.isRecording()) {
      if (aborted) {
        span.setAttribute('error.type', ERROR_TYPE_CLIENT_ABORTED);
        span.addEvent('http.client_aborted');
      } else {
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) {
          span.setAttribute('error.type', String(status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      }
      span.end();
    }
  }

  // The response's 'close' ends every request: after the response was ended (its status) or
  // before (the client went away during the request body or while the response was streaming:
  // CLIENT_CLOSED_STATUS). One shared listener, no closure, and no Fastify onResponse hook (a
  // hook runner per request). `writableEnded`, not `writableFinished`: injected requests
  // (light-my-request) never flush to a socket. A response emits 'close' once, so this is the
  // only place a request ends.
  function onResClose(this: ServerResponse & WithState): void {
    const st = this[kState];
    if (st === undefined) return;
    if (this.writableEnded) finish(st, this.statusCode, false);
    else finish(st, CLIENT_CLOSED_STATUS, true);
  }

  // Re-enter the request's context after body parsing, on routes whose method can carry a body
  // (GET routes keep a hook-free path). On Node 20 and 24 the context survives a body that
  // arrives in later socket reads (tested), so this guards content parsers that resume the body
  // from another async resource; it costs one hook on body routes only. Global preValidation
  // hooks run before route ones; the app registers none.
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => BODYLESS_METHODS.has(m.toUpperCase()))) return;
    const existing = route.preValidation as RouteHook | RouteHook[] | undefined;
    route.preValidation = existing === undefined ? otelReenterContext : [otelReenterContext, ...(Array.isArray(existing) ? existing : [existing])];
  });

  // Sampled requests read the client's address (client.address), and the first read of
  // `socket.remoteAddress` caches it on the socket (`_peername`), changing the socket's hidden
  // class. With some connections changed and others not, Node's HTTP and stream functions see
  // more socket shapes and their property loads go megamorphic, for every request, sampled or
  // not: at the production profile that was 7.7k of the 30k instructions per request our
  // telemetry added on GET /healthz (counted under callgrind, docs/benchmarks.md). Reading it
  // once when the connection opens, before Node's own listener, gives every socket one shape.
  app.server.prependListener('connection', readPeerAddressOnce);

  app.addHook('onRequest', function otelOnRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const start = performance.now();
    const headers = request.headers;
    const parent = headers.traceparent === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, headers, headerGetter);
    const route = routeInfo(request);
    const rawMethod = request.method;
    const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : '_OTHER';
    const m = methodInfo(route, method);
    const isCritical = route.critical || (critical !== undefined && critical(request, route.template));
    // With our default sampler installed, a root request that is not critical is kept with
    // probability rootRatio: take that decision here, and an unsampled request gets a
    // non-recording span with fresh ids (what the SDK would return) without the SDK's span
    // machinery. Any other sampler (OTEL_TRACES_SAMPLER, tests) always goes through the SDK.
    // The unsampled root request's ids and header values come from rootContexts (pooled).
    const rootRatio = telemetryState.rootRatio;
    let pooled = false;
    let span: Span;
    if (!isCritical && parent === ROOT_CONTEXT && rootRatio !== undefined && rootRatio < 1) {
      if (Math.random() < rootRatio) span = getTracer().startSpan(m.name, SERVER_SPAN, HEAD_SAMPLED_CONTEXT);
      else {
        rootContexts.next();
        span = trace.wrapSpanContext(new UnsampledSpanContext(rootContexts.traceId, rootContexts.spanId));
        pooled = true;
      }
    } else span = getTracer().startSpan(m.name, isCritical ? { kind: SpanKind.SERVER, attributes: CRITICAL_ATTRS } : SERVER_SPAN, parent);
    if (span.isRecording()) {
      span.setAttributes(m.attrs);
      const url = request.url;
      const q = url.indexOf('?');
      span.setAttribute('url.path', redactString(q < 0 ? url : url.slice(0, q)));
      if (q >= 0) span.setAttribute('url.query', redactString(url.slice(q + 1)));
      span.setAttribute('url.scheme', request.protocol);
      const ua = headers['user-agent'];
      if (ua !== undefined) span.setAttribute('user_agent.original', ua);
      span.setAttribute('client.address', request.ip);
      if (method !== rawMethod) span.setAttribute('http.request.method_original', rawMethod);
    }
    const ctx = requestContext(parent, span);
    const st = new RequestState(span, ctx, start, route, method);
    (request.raw as IncomingMessage & WithState)[kState] = st;
    const res = reply.raw as ServerResponse & WithState;
    res[kState] = st;
    res.on('close', onResClose);
    if (pooled) {
      reply.header(TRACE_RESPONSE_HEADER, rootContexts.traceparent);
      reply.header(SERVER_TIMING_HEADER, rootContexts.serverTiming);
    } else if (telemetryState.enabled) {
      // Without a running SDK the span context is the invalid all-zero one: no header then.
      const tp = traceparentOf(span);
      reply.header(TRACE_RESPONSE_HEADER, tp);
      reply.header(SERVER_TIMING_HEADER, serverTimingValue(tp));
    }
    context.with(ctx, done);
  });

  app.addHook('onError', function otelOnError(request: FastifyRequest, _reply: FastifyReply, error: Error, done: HookHandlerDoneFunction) {
    const st = stateOf(request);
    // The exception event only: ERROR status follows the status code (5xx) in finish(), since a
    // 4xx thrown as an error (validation, auth) is not a server failure.
    if (st && st.span.isRecording()) {
      const message = redactString(error.message);
      st.span.recordException({ name: error.name, message, stack: error.stack ? redactString(error.stack) : undefined });
    }
    done();
  });
}
