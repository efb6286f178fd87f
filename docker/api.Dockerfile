# editserve API node: `editserve serve --workers 0` (HTTP API, SSE, webhooks, the workbench),
# also used for the one-shot `editserve migrate` and the client commands. No model libraries:
# the image installs editserve's base dependency set only (no torch, diffusers, transformers),
# so it is small and starts in seconds. GPU hosts run docker/worker.Dockerfile.
#
#   docker build -f docker/api.Dockerfile -t editserve-api .
#   docker run -p 8000:8000 -v editserve-data:/var/lib/editserve editserve-api
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# a venv keeps the install in one folder that the final stage copies whole
RUN python3 -m venv /opt/editserve \
    && /opt/editserve/bin/pip install --no-cache-dir . \
    && /opt/editserve/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/editserve /opt/editserve
# the data dir holds the database (signing and webhook secrets) and the first key: owner-only
RUN groupadd --system --gid 10001 editserve \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/editserve \
        --shell /usr/sbin/nologin editserve \
    && chmod 0700 /var/lib/editserve
ENV PATH=/opt/editserve/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    EDITSERVE_HOST=0.0.0.0 \
    EDITSERVE_PORT=8000 \
    EDITSERVE_WORKERS=0 \
    EDITSERVE_DATA_DIR=/var/lib/editserve
# numeric, so a runtime can tell it is not root without reading /etc/passwd
USER 10001:10001
WORKDIR /var/lib/editserve
# data_dir: SQLite and local files when no EDITSERVE_DATABASE_URL / EDITSERVE_STORAGE_URL is
# set, the first key file and (without EDITSERVE_SIGNING_SECRET) the signing secret
VOLUME ["/var/lib/editserve"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('EDITSERVE_PORT', '8000') + '/healthz', timeout=4)"]
CMD ["editserve", "serve", "--workers", "0"]
