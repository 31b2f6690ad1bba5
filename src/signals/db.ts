// Database (Prisma on PostgreSQL) signals. The slow-query threshold is SLOW_QUERY_THRESHOLD_MS
// in telemetry.ts.

/** Query duration by model and operation (a Prisma client extension observes every model call). */
export const DB_QUERY_DURATION = 'db_client_query_duration_seconds';
export const DB_LABELS = { model: 'db_model', operation: 'db_operation', outcome: 'outcome' } as const;
/** Raw queries ($queryRaw, $executeRaw) have no model: labelled with this. */
export const DB_MODEL_RAW = 'raw';
/** Dense under 100 ms (the slow-query threshold and the api objective are boundaries). */
export const DB_QUERY_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;
/** Message of the slow-query log line (Loki queries match on it). */
export const SLOW_QUERY_LOG_MSG = 'slow query';
/** Spans of Prisma's OpenTelemetry instrumentation (@prisma/instrumentation). */
export const PRISMA_SPANS = { operation: 'prisma:client:operation', dbQuery: 'prisma:client:db_query' } as const;
/** Table Prisma Migrate records applied migrations in; src/db/migrate.ts writes the same table. */
export const MIGRATIONS_TABLE = '_prisma_migrations';
/** Page size of GET /api/videos. */
export const VIDEO_LIST_DEFAULT_LIMIT = 20;
export const VIDEO_LIST_MAX_LIMIT = 100;
