import { describe, expect, it } from 'vitest';
import {
  HTTP_DURATION_BUCKETS,
  LATENCY_OBJECTIVE_SECONDS,
  ROUTE_CLASSES,
  SAMPLING_RATIO,
  ENVIRONMENTS,
  errorRatio,
  latencyQuantile,
  sel,
} from '../src/signals/index.ts';

describe('signals contract', () => {
  it('makes every latency objective a histogram bucket boundary', () => {
    for (const cls of ROUTE_CLASSES) {
      const objective = LATENCY_OBJECTIVE_SECONDS[cls];
      expect(HTTP_DURATION_BUCKETS, `objective of route class ${cls} (${objective}s)`).toContain(objective);
    }
  });

  it('keeps buckets strictly increasing', () => {
    const b = [...HTTP_DURATION_BUCKETS];
    expect(b).toEqual([...b].sort((x, y) => x - y));
    expect(new Set(b).size).toBe(b.length);
  });

  it('samples every environment with a ratio in [0, 1] and production at 10 %', () => {
    for (const env of ENVIRONMENTS) {
      expect(SAMPLING_RATIO[env]).toBeGreaterThan(0);
      expect(SAMPLING_RATIO[env]).toBeLessThanOrEqual(1);
    }
    expect(SAMPLING_RATIO.production).toBe(0.1);
  });

  it('renders selectors with equality and regex matchers', () => {
    expect(sel({ service_name: 'video-api', route_class: '=~stream|redirect' })).toBe(
      '{service_name="video-api", route_class=~"stream|redirect"}',
    );
  });

  it('builds an error ratio that divides only by a positive rate', () => {
    expect(errorRatio('5m', { service_name: 'video-api' })).toContain('> 0)');
    expect(latencyQuantile(0.95, '5m', {}, ['route_class'])).toBe(
      'histogram_quantile(0.95, sum by (le, route_class) (rate(http_server_request_duration_seconds_bucket{}[5m])))',
    );
  });
});
