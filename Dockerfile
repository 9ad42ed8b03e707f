# One image per service, chosen by a build argument:
#   docker build --build-arg SERVICE=jobs -t talent-jobs .
# The final stage holds the service's virtual environment only: no uv, no compiler, no sources.
# Behind a TLS-inspecting proxy, give its CA bundle as a build secret (never stored in a layer):
#   docker build --secret id=ca_bundle,src=/path/to/ca.pem --build-arg SERVICE=jobs .
# No `# syntax=` line: the engine's built-in frontend knows RUN --mount, and needs no pull.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The CA bundle, when given, is trusted by pip and uv for the steps that download.
ENV CA_SECRET=/run/secrets/ca_bundle
RUN --mount=type=secret,id=ca_bundle \
    if [ -s "$CA_SECRET" ]; then export PIP_CERT="$CA_SECRET"; fi; \
    pip install --no-cache-dir uv==0.13.8
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=signup|jobs|notifications" && false)
WORKDIR /src
# Dependencies first, from the lock file only: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY services/signup/pyproject.toml services/signup/
COPY services/jobs/pyproject.toml services/jobs/
COPY services/notifications/pyproject.toml services/notifications/
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -s "$CA_SECRET" ]; then export SSL_CERT_FILE="$CA_SECRET"; fi; \
    uv sync --frozen --no-dev --no-install-workspace --package "talent-$SERVICE"
# Then the code: the shared library and this service, installed (not linked) into the venv.
COPY shared shared
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -s "$CA_SECRET" ]; then export SSL_CERT_FILE="$CA_SECRET"; fi; \
    uv sync --frozen --no-dev --no-editable --package "talent-$SERVICE"

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
RUN groupadd --system --gid 10001 talent \
 && useradd --system --uid 10001 --gid talent --no-create-home --shell /usr/sbin/nologin talent
COPY --from=build --chown=root:root /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SERVICE_MODULE=talent_${SERVICE} \
    ENVIRONMENT=production
USER 10001:10001
EXPOSE 8001 8002 8003
# /healthz on the port the service listens on (HTTP_PORT, else its contract port).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request as u;p=os.environ.get('HTTP_PORT') or {'talent_signup':'8001','talent_jobs':'8002','talent_notifications':'8003'}[os.environ['SERVICE_MODULE']];u.urlopen(f'http://127.0.0.1:{p}/healthz',timeout=2)"]
STOPSIGNAL SIGTERM
# `serve` (default) or `migrate` (the one-shot migration step).
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"$SERVICE_MODULE\" \"$@\"", "--"]
CMD ["serve"]
