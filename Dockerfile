# syntax=docker/dockerfile:1
# zego-stream-exporter image.
#   docker build -t zego-stream-exporter --build-arg REVISION=$(git rev-parse HEAD) .
#   docker run -p 9792:9792 -v $PWD/config.yaml:/etc/zego-stream-exporter/config.yaml:ro \
#     -e ZEGO_SERVER_SECRET zego-stream-exporter
# test/integration/image.test.ts (with test/helpers/dockerfile.ts) replays the runtime stage from this file's COPY lines: whatever the
# runtime needs must be copied here, and only production dependencies are installed.

# The current Node.js LTS (26: Active LTS since 2026-10-28; 24 is in maintenance).
ARG NODE_VERSION=26

# 1. Build: every dependency (TypeScript), compile to dist/.
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# 2. Production dependencies only.
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 3. Runtime: distroless (no shell, no package manager), non-root (uid 65532).
FROM gcr.io/distroless/nodejs${NODE_VERSION}-debian13:nonroot
ARG REVISION=unknown
ENV NODE_ENV=production \
    ZEGO_EXPORTER_REVISION=${REVISION}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./package.json
COPY --from=build /src/dist/src ./dist/src
USER 65532:65532
EXPOSE 9792
# The callback listener (callbacks.listen_address): the only port to expose to ZEGO.
EXPOSE 9793
# Exec form: Node is PID 1 and gets SIGTERM (clean stop) and SIGHUP (reload) directly; the exporter
# handles both itself, so no init process is needed.
ENTRYPOINT ["/nodejs/bin/node", "dist/src/main.js"]
CMD ["--config.file=/etc/zego-stream-exporter/config.yaml"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/nodejs/bin/node", "dist/src/healthcheck.js"]
