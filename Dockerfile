# syntax=docker/dockerfile:1
# Build stage: a wheel of syncer and wheels of its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syncer ./syncer
COPY sql ./sql
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Final stage: no compilers, no sources, a non-root user; signals go straight to the worker.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 syncer
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels syncer && rm -rf /wheels
USER syncer
ENTRYPOINT ["syncer"]
CMD ["run"]
