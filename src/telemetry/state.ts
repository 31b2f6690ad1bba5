// Process-wide telemetry state shared by the helpers without import cycles. `generation` changes
// each time an SDK is started or shut down, so helpers that cache a tracer or logger (a ProxyTracer
// binds to its first delegate for good) fetch a fresh one.
export const telemetryState = {
  /** True while an SDK started by startTelemetry is installed (false: disabled or not started). */
  enabled: false,
  generation: 0,
  /** rootRatioOf(the installed sampler): set while our default sampler is installed. */
  rootRatio: undefined as number | undefined,
};

/** Called by sdk.ts whenever globals change. */
export function bumpGeneration(enabled: boolean): void {
  telemetryState.enabled = enabled;
  if (!enabled) telemetryState.rootRatio = undefined;
  telemetryState.generation++;
}
