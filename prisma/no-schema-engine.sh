#!/bin/sh
# Stand-in for Prisma's schema engine, which the Prisma CLI downloads on first use and which
# cannot be downloaded here (no network but the npm registry). `prisma generate` never runs it
# (the `prisma-client` generator and the query compiler are WebAssembly), so pointing
# PRISMA_SCHEMA_ENGINE_BINARY here lets generate run offline. Anything that does need the
# engine (prisma migrate/db push/db pull) ends up here and stops with this explanation.
echo "Prisma's schema engine is not installed (offline machine). Apply migrations with 'npm run db:migrate'; see docs/database.md." >&2
exit 1
