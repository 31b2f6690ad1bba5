# Image of the reference service: video-api (default CMD) and video-worker (compose overrides the
# command). Multi-stage: `build` compiles TypeScript with the dev dependencies; `runtime` has
# production dependencies only, FFmpeg for the worker, and runs as the non-root `node` user.

# Node 24 slim; docker compose passes node:${NODE_TAG} from .env as NODE_IMAGE.
ARG NODE_IMAGE=node:24.21.0-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first: this layer is reused until package-lock.json changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY prisma ./prisma
COPY src ./src
# The Prisma client is generated into src/db/generated and normally committed; generate it only
# if a checkout lacks it (the query-compiler generator downloads nothing).
RUN if [ ! -f src/db/generated/client.ts ]; then \
      DATABASE_URL=postgresql://build:build@localhost:5432/build npx prisma generate --schema prisma/schema.prisma; \
    fi
RUN npm run build
# The one-shot jobs (db-migrate, crm-emulator) run from this stage: `npm run db:migrate` and
# `npm run start:crm-emulator` execute sources with Node's type stripping.
ENV NODE_ENV=production

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# FFmpeg/ffprobe for the worker's thumbnails (src/lib/ffmpeg.ts); CA certificates for HTTPS
# endpoints (a real S3, a real CRM).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# 8080 HTTP + websockets, 9464 API metrics, 9465 worker metrics.
EXPOSE 8080 9464 9465
# The SDK is preloaded before the app is imported (OpenTelemetry's ESM loader hook needs that);
# OTEL_SDK_DISABLED=true turns it into a no-op for the uninstrumented baseline.
CMD ["node", "--import", "./dist/telemetry/register.js", "dist/api/main.js"]
