# One image for both processes of the order service: the API (default) and the worker.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
# Both processes run compiled (dist/server.mjs, dist/worker.mjs), the workflows prebuilt: scripts/build.ts.
COPY scripts/build-workflows.ts scripts/build.ts ./scripts/
# The commit the image is built from names the worker's build for Temporal (TEMPORAL_BUILD_ID,
# written to dist/build-info.json): `docker build --build-arg GIT_COMMIT=$(git rev-parse --short HEAD) .`
# The image has no .git; without the argument a hash of the built worker and workflows stands in.
ARG GIT_COMMIT=""
RUN node --import tsx scripts/build.ts /app/dist --commit "$GIT_COMMIT"
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
# SERVICE_PROCESS_ENV of scripts/build.ts: at most two glibc malloc arenas (worker peak RSS 221 MB instead of 266).
ENV MALLOC_ARENA_MAX=2
USER node
EXPOSE 3000
# The API, with API_NODE_FLAGS of scripts/build.ts; the worker runs the same image with its command in docker-compose.yml.
CMD ["node","--enable-source-maps","--max-semi-space-size=1","--max-old-space-size=80","dist/server.mjs"]
