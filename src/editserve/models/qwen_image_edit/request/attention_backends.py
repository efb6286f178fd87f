"""diffusers' attention backends, and where each can run (plain data, no torch)."""

from __future__ import annotations

# diffusers 0.42's AttentionBackendName values (a unit test keeps this list in step).
ATTENTION_BACKENDS = (
    "native",
    "_native_cudnn",
    "_native_efficient",
    "_native_flash",
    "_native_math",
    "_native_npu",
    "_native_xla",
    "flex",
    "flash",
    "flash_hub",
    "flash_varlen",
    "flash_varlen_hub",
    "flash_4_hub",
    "_flash_3",
    "_flash_varlen_3",
    "_flash_3_hub",
    "_flash_3_varlen_hub",
    "aiter_fa2_hub",
    "sage",
    "sage_hub",
    "sage_blackwell_hub",
    "sage_varlen",
    "_sage_qk_int8_pv_fp8_cuda",
    "_sage_qk_int8_pv_fp8_cuda_sm90",
    "_sage_qk_int8_pv_fp16_cuda",
    "_sage_qk_int8_pv_fp16_triton",
    "xformers",
)
# Backends that ran the tiny model on this project's CPU machines (the others either need
# CUDA kernels or found "no viable backend" on the CPU).
CPU_ATTENTION_BACKENDS = ("native", "_native_math", "_native_flash", "flex")
# Backends whose kernels only take half precision (bf16/fp16).
HALF_PRECISION_BACKEND_PREFIXES = ("flash", "_flash", "sage", "_sage", "aiter")
# Backends that need one NPU / XLA device, which editserve does not drive.
UNSUPPORTED_BACKENDS = ("_native_npu", "_native_xla")
