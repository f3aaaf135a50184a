# syntax=docker/dockerfile:1
# Build stage: a wheel of syncer and wheels of everything it needs (all ship as binary wheels
# for CPython 3.11 on Linux, so no compiler is needed here either).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syncer ./syncer
COPY sql ./sql
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Final stage: the slim base, the installed wheels and nothing else: no compiler, no sources,
# no wheel files (they are bind-mounted for the install, never copied into a layer).
FROM python:3.11-slim
# The release being built: CI passes --build-arg VERSION; the default follows syncer/__init__.py
# (tests/test_container.py holds them together).
ARG VERSION=0.2.0.dev0
LABEL org.opencontainers.image.title="syncer" \
      org.opencontainers.image.description="Keeps chat-group profiles at Tencent Cloud Chat and Nexconn in line with Postgres" \
      org.opencontainers.image.source="https://github.com/example/syncer" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels /wheels/syncer-*.whl \
    && useradd --create-home --uid 10001 --user-group syncer
# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
# Exec form: syncer is PID 1 and gets SIGTERM itself (no shell in between); it installs its own
# handlers, which PID 1 needs, and stops within --grace-seconds.
ENTRYPOINT ["syncer"]
CMD ["run"]
