# syntax=docker/dockerfile:1
# Mechanic's image: built JavaScript, production dependencies only, aider in its own virtualenv,
# git and ssh for the workspace, tini as PID 1, a non-root user. The commands here are the ones
# CI runs (`npm ci`, `npm run build`, `node dist/main.js`), and test/e2e/deploy.test.ts holds this
# file, fly.toml and the workflow to them.

ARG NODE_VERSION=24.21.0

# --- build: compile TypeScript to dist/, then drop dev dependencies ---------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY *.ts ./
COPY agents ./agents
COPY bot ./bot
COPY db ./db
COPY domain ./domain
COPY graph ./graph
COPY services ./services
COPY sandbox ./sandbox
COPY worker ./worker
COPY workspace ./workspace
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- aider: pinned, in a virtualenv, built against the runtime's own python3 -------------------
FROM node:${NODE_VERSION}-bookworm-slim AS aider
ARG AIDER_VERSION=0.86.1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/aider \
 && /opt/aider/bin/pip install --no-cache-dir --disable-pip-version-check "aider-chat==${AIDER_VERSION}"

# --- runtime ---------------------------------------------------------------------------------
# fonts-dejavu-core: the words on /usage's chart (drawn on the server with @napi-rs/canvas).
# bubblewrap: the sandbox aider, test commands, stdio MCP servers and the PDF reader run in (SANDBOX).
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 git openssh-client ca-certificates tini fonts-dejavu-core bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/mechanic mechanic \
 && mkdir -p /data && chown mechanic:mechanic /data
COPY --from=aider /opt/aider /opt/aider
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# Set by the deploy workflow (--build-arg COMMIT_SHA=…): /status shows which commit runs.
ARG COMMIT_SHA=""
ENV NODE_ENV=production \
    COMMIT_SHA=${COMMIT_SHA} \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    WORKSPACE_DIR=/data/workspace \
    AIDER_BIN=/opt/aider/bin/aider

USER mechanic
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini forwards SIGTERM to node and reaps aider's children; node drains and exits 0.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
