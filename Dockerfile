# syntax=docker/dockerfile:1
# dstack-app: the service (webhooks, API, pages, BullMQ workers, local runner backend).
# Build: docker build -t dstack-app .   Run: docker run -p 3000:3000 -e REDIS_URL=redis://redis:6379 dstack-app

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY queue ./queue
COPY runners ./runners
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
# git and python3 (with venv) for the local runner's workflows; redis-server so the image also
# runs alone (the service starts an embedded one when REDIS_URL answers nothing).
RUN apt-get update \
  && apt-get install -y --no-install-recommends git python3 python3-venv python3-pip ca-certificates redis-server tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DSTACK_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json app.yml ./
COPY templates ./templates
COPY web ./web
# The EC2 instance catalogue (read at run time by runners/ec2/catalogue.ts and `dstack offers`).
COPY runners/ec2/catalogue.json ./runners/ec2/catalogue.json
COPY src/api/v1/openapi.json ./src/api/v1/openapi.json
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The image is built already: --ignore-scripts skips `prestart` (the build), not `start` itself.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["npm", "start", "--ignore-scripts"]
