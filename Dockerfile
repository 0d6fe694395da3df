# syntax=docker/dockerfile:1
# policybot: a slim image that runs as a non-root user, with a health check.
#
# Three stages, so that the final image holds neither a compiler nor build tools, and so that
# editing the code rebuilds only the last small layers:
#   deps   installs the runtime dependencies from requirements.lock (pinned, hash-checked,
#          wheels only) into the virtual environment /opt/policybot;
#   build  compiles the classifier's hot path with mypyc (setup.py) into a policybot wheel,
#          with the build tools from requirements-build.lock;
#   final  the dependencies' environment plus that wheel; the build fails here when the
#          classifier did not compile.
# Regenerate the lock files after changing dependencies (see README, "Deploy").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore


FROM base AS deps
# Only the lock file: this layer is rebuilt when the dependencies change, not the code.
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/policybot \
    && /opt/policybot/bin/pip install --no-deps --require-hashes --only-binary=:all: \
        -r /tmp/requirements.lock


FROM base AS build
# gcc and the C library headers for mypyc; this stage is thrown away after the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements-build.lock /tmp/requirements-build.lock
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --no-deps --require-hashes --only-binary=:all: \
        -r /tmp/requirements-build.lock
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md LICENSE ./
COPY migrations ./migrations
COPY bot ./bot
# No build isolation: the pinned tools above build it (setuptools, mypy's mypyc).
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /wheels .


FROM base AS final
ENV PATH=/opt/policybot/bin:$PATH \
    POLICYBOT_DATA_DIR=/data \
    POLICYBOT_FEEDS=/app/feeds.yaml \
    POLICYBOT_LOG_FORMAT=json \
    POLICYBOT_METRICS_PORT=9108
RUN groupadd --system --gid 10001 policybot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin policybot \
    && mkdir -p /app /data \
    && chown policybot:policybot /data
COPY --from=deps /opt/policybot /opt/policybot
# The check fails the build when the compiled classifier does not load (it is about 1.7x the
# pure-Python one: README, "Development"); it runs from /, where only the installed package
# can be imported. The wheel is mounted from the build stage, so no layer keeps a copy.
WORKDIR /
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-deps --no-index /wheels/policybot-*.whl \
    && python -c "import bot.app.cli, bot.classify as c; b = c.native.build(); print(b.describe()); assert b.compiled, b.describe()" \
    && python -c "import bot.store.db as d; p = d.migrations_dir(); assert (p / 'env.py').is_file(), p"

WORKDIR /app
COPY feeds.yaml /app/feeds.yaml
# Numeric, so that runtimes checking "not root" (runAsNonRoot) can tell without /etc/passwd.
USER 10001:10001
VOLUME ["/data"]
# 3000: Slack's HTTP mode (/slack/events); 9108: /healthz and /metrics.
EXPOSE 3000 9108
# /healthz answers 200 while the database is reachable (see README, "Operations").
HEALTHCHECK --interval=60s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('POLICYBOT_METRICS_PORT') or '9108'), timeout=4)"]

ENTRYPOINT ["policybot"]
CMD ["run"]
