import { defineConfig } from 'vitest/config';

// Integration tests start real servers (s3rver, Redis, Prometheus, ...) on 127.0.0.1; each file
// owns its own, so files may run in parallel but never share a port or a temp dir.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
