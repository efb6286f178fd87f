#!/usr/bin/env bash
# Wheels for `python -m bench.gpu` on an offline GPU host whose Python has torch but not
# diffusers: run this where PyPI is reachable, copy the folder beside the repository on
# the GPU host, then install from it there (nothing is downloaded on the GPU host):
#
#   bench/gpu_wheels.sh [DEST]            # DEST default: ../editserve-gpu-wheels
#   # on the GPU host, from the repository root:
#   python -m pip install --no-index --find-links ../editserve-gpu-wheels -r bench/gpu-requirements.txt
#   PYTHONPATH=src python -m bench.gpu
#
# The GPU host's Python may differ from this one: GPU_PYTHON_VERSION (e.g. 3.10, 3.12)
# and GPU_PLATFORM (default manylinux_2_28_x86_64; aarch64 hosts: manylinux_2_28_aarch64)
# choose the wheels. torch and what only torch needs (triton, nvidia-*, sympy, ...) are
# left out: the host's own torch stays as it is.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-$here/../../editserve-gpu-wheels}"
python="${PYTHON:-python3}"
py_version="${GPU_PYTHON_VERSION:-$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}"
platform="${GPU_PLATFORM:-manylinux_2_28_x86_64}"
legacy="${platform/manylinux_2_28/manylinux2014}"
requirements="$here/gpu-requirements.txt"
mkdir -p "$dest"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT

target=(--only-binary=:all: --python-version "$py_version" --platform "$platform"
        --platform "$legacy" --platform any)

# 1. resolve the whole dependency closure for the GPU host's Python and platform (the
#    resolver reads metadata only: torch's wheel is not downloaded)
"$python" -m pip install --quiet --dry-run --ignore-installed --target "$dest/.resolve" \
    "${target[@]}" --report "$report" -r "$requirements"
rm -rf "$dest/.resolve"

# 2. download every resolved wheel except torch and what only torch needs
"$python" - "$report" > "$dest/closure.txt" <<'EOF'
import json, sys
TORCH_ONLY = {"torch", "triton", "sympy", "mpmath", "networkx", "setuptools"}
report = json.load(open(sys.argv[1]))
for item in report["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    key = name.lower().replace("_", "-")
    if key in TORCH_ONLY or key.startswith(("nvidia-", "cuda-")):
        continue
    print(f"{name}=={version}")
EOF
"$python" -m pip download --quiet --no-deps "${target[@]}" --dest "$dest" -r "$dest/closure.txt"
echo "$(ls "$dest"/*.whl | wc -l) wheels in $dest for Python $py_version on $platform"
