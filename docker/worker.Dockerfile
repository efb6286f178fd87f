# editserve GPU worker: `editserve worker` (one process, one GPU) claiming jobs from the shared
# PostgreSQL store and writing results to the shared S3 bucket. The full package: editserve
# with its `gpu` extra (torch, diffusers, transformers, ...).
#
#   docker build -f docker/worker.Dockerfile -t editserve-worker .
#   docker run --gpus 1 -e EDITSERVE_DATABASE_URL=... -e EDITSERVE_STORAGE_URL=s3://... \
#       -v hf-cache:/var/cache/huggingface editserve-worker
#
# torch's PyPI wheels for x86_64 are CUDA 13.0 builds that bring their own CUDA libraries
# (the nvidia-* wheels), so the base is NVIDIA's small `base` flavour of the same CUDA version
# (driver hook-up for the NVIDIA container toolkit, CUDA forward-compat); `runtime` works too
# but adds ~2 GB of libraries torch does not load. Host driver: 580 or newer.
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-base-ubuntu24.04

FROM ${CUDA_IMAGE} AS python
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

FROM python AS build
# the same torch pins as ./dev setup on x86_64 (tests/contract/test_containers.py checks)
ARG TORCH_PINS="torch==2.14.1 torchvision==0.29.1"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# hadolint ignore=SC2086
RUN python3 -m venv /opt/editserve \
    && /opt/editserve/bin/pip install --no-cache-dir ${TORCH_PINS} \
    && /opt/editserve/bin/pip install --no-cache-dir ".[gpu]"

FROM python
COPY --from=build /opt/editserve /opt/editserve
COPY docker/worker-healthcheck.py /opt/editserve/healthcheck.py
RUN groupadd --system --gid 10001 editserve \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/editserve \
        --shell /usr/sbin/nologin editserve \
    && chmod 0700 /var/lib/editserve \
    && mkdir -p /var/cache/huggingface \
    && chown 10001:10001 /var/cache/huggingface
ENV PATH=/opt/editserve/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/var/cache/huggingface \
    EDITSERVE_DATA_DIR=/var/lib/editserve \
    EDITSERVE_DEVICE=cuda
# numeric, so a runtime can tell it is not root without reading /etc/passwd
USER 10001:10001
WORKDIR /var/lib/editserve
# the model weights (~58 GB for Qwen-Image-Edit-2509; downloaded on the first start) and the
# worker's own files (tiny weights, fetched LoRAs): keep both across container restarts
VOLUME ["/var/cache/huggingface", "/var/lib/editserve"]
# healthy while this container's worker heartbeats in the store (no HTTP port on a worker);
# the first start downloads the weights, hence the long start period
HEALTHCHECK --interval=30s --timeout=20s --start-period=30m --retries=3 \
    CMD ["python3", "/opt/editserve/healthcheck.py"]
# SIGTERM: the worker finishes or hands back its job, then exits
STOPSIGNAL SIGTERM
CMD ["editserve", "worker"]
