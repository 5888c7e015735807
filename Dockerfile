# One image for both processes of the order service: the API (default) and the worker.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json worker.ts ./
COPY src ./src
COPY migrations ./migrations
# The worker runs compiled (dist/worker.mjs) with its workflows prebuilt: scripts/build-worker.ts.
COPY scripts/build-workflows.ts scripts/build-worker.ts ./scripts/
RUN node --import tsx scripts/build-worker.ts /app/dist
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
USER node
EXPOSE 3000
# The API; the worker runs the same image with its command in docker-compose.yml.
CMD ["node", "--import", "tsx", "src/server.ts"]
