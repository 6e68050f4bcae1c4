# syntax=docker/dockerfile:1
# SpO₂ image: docker build -t spo2 .
#   docker run -d -p 8000:8000 -v spo2-data:/data -e SPO2_API_TOKEN="$(openssl rand -hex 32)" spo2
# See docs/deploy.md. Two stages: the first compiles better-sqlite3's native addon and the
# TypeScript; the second carries only what runs.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches: give it a toolchain.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY bin ./bin
COPY src ./src
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HTTP_LISTEN_ADDR=0.0.0.0:8000 \
    WS_LISTEN_ADDR=off \
    DATABASE_PATH=/data/spo2.db
WORKDIR /app
# package.json says "type": "module"; bin/spo2.js loads dist/spo2.js.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# The database lives on a volume owned by the image's unprivileged "node" user (uid 1000).
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8000
# Liveness of the process on the port HTTP_LISTEN_ADDR names; with SPO2_TLS_* set it speaks
# HTTPS and accepts the (possibly self-signed) certificate, since it only asks "are you up".
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const tls = !!process.env.SPO2_TLS_CERT; if (tls) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; const port = (process.env.HTTP_LISTEN_ADDR || '').split(':').pop() || '8000'; fetch((tls ? 'https' : 'http') + '://127.0.0.1:' + port + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/spo2.js"]
CMD ["serve"]
