// The contract: every signal name, bucket, threshold and query. No Node imports (k6 imports it).
export * from './services.ts';
export * from './routes.ts';
export * from './slo.ts';
export * from './http.ts';
export * from './video.ts';
export * from './s3.ts';
export * from './telemetry.ts';
export * from './promql.ts';
export * from './queue.ts';
export * from './realtime.ts';
export * from './load.ts';
export * from './k6.ts';
export * from './crm.ts';
export * from './db.ts';
export * from './api.ts';
export * from './stack.ts';
export * from './tempo.ts';
