# policybot: slim image, non-root user, health check.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POLICYBOT_DATA_DIR=/data \
    POLICYBOT_FEEDS=/app/feeds.yaml \
    POLICYBOT_MIGRATIONS_DIR=/app/migrations \
    POLICYBOT_LOG_FORMAT=json \
    POLICYBOT_METRICS_PORT=9108

WORKDIR /app
RUN groupadd --system policybot && useradd --system --gid policybot --home-dir /app policybot \
    && mkdir -p /data && chown policybot:policybot /data

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml setup.py README.md ./
COPY bot/__init__.py bot/__init__.py
RUN pip install --upgrade pip && pip install . && pip uninstall -y policybot

COPY bot ./bot
COPY migrations ./migrations
COPY feeds.yaml ./
# gcc only for the build: setup.py compiles the classifier's hot path with mypyc (about 1.7x
# faster); the compiler is removed again in the same layer. The check fails the build if the
# compiled modules do not load.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-deps . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && cd / && python -c "import bot.app.cli, bot.classify as c; b = c.native.build(); print(b.describe()); assert b.compiled"

USER policybot
VOLUME ["/data"]
EXPOSE 9108
# /healthz answers 200 while the scheduler runs (metrics server; see README "Operations").
HEALTHCHECK --interval=60s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('POLICYBOT_METRICS_PORT','9108'), timeout=4)" || exit 1

ENTRYPOINT ["policybot"]
CMD ["run"]
