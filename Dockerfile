# One image for both processes of the order service: the API (default) and the worker.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json worker.ts ./
COPY src ./src
COPY migrations ./migrations
USER node
EXPOSE 3000
# The API; the worker runs the same image with: node --import tsx worker.ts
CMD ["node", "--import", "tsx", "src/server.ts"]
