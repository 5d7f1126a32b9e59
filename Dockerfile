# One image for every Peerlink service; the command chooses which one runs.

# The web app's front-end assets (the NHS.UK frontend) exactly as their lockfile pins them.
FROM node:22-slim AS web-assets
WORKDIR /assets
COPY services/web/assets/package.json services/web/assets/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 peerlink
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY contracts ./contracts
COPY services ./services
COPY deploy ./deploy
RUN pip install --no-cache-dir .
COPY --from=web-assets /assets/node_modules /app/web-assets/node_modules
ENV PEERLINK_WEB_ASSETS=/app/web-assets
USER peerlink
