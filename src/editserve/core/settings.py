"""One typed settings object for every process.

Values come from (in order of precedence) explicit arguments / CLI flags, then
``EDITSERVE_*`` environment variables, then the defaults below. Nothing is read at
import time: call :func:`load_settings` where a process starts and pass the object down.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, PositiveFloat, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from editserve.core.limits import NodeLimits

NATIVE_AREA = 1024 * 1024


class _ServerSettings(BaseSettings):
    """Where things live, HTTP, the queue, inputs, webhooks, models and logs."""

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("editserve-data"),
        description="Folder for the SQLite database, the local file store and the first key.",
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path.db or postgresql://...; default: SQLite in data_dir.",
    )
    storage_url: str | None = Field(
        default=None,
        description="file:///folder or s3://bucket/prefix; default: data_dir/files.",
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint.")

    # --- HTTP ----------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, description="Port the API listens on.")
    public_url: str | None = Field(
        default=None,
        description="Base URL used in result/upload URLs; default: taken from each request.",
    )
    signing_secret: str | None = Field(
        default=None,
        description="HMAC secret for file links; default: one per cluster, kept in the database.",
    )
    url_ttl_seconds: int = Field(
        default=3600,
        ge=1,
        le=7 * 24 * 3600,
        description=(
            "Lifetime of the presigned S3 URL a /files link redirects to (at most 7 days); "
            "result and file links themselves last as long as their file."
        ),
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API cross-site (comma list; * = any).",
    )
    max_body_bytes: int = Field(default=64 * 1024 * 1024, description="Largest request body.")
    sync_timeout_seconds: float = Field(
        default=300.0, description="How long POST /api/ai/images/edit waits before a 504."
    )
    sse_keepalive_seconds: float = Field(default=15.0, description="SSE keep-alive interval.")
    sse_poll_seconds: float = Field(default=0.25, description="How often SSE reads new events.")

    # --- queue ---------------------------------------------------------------------------
    lease_seconds: float = Field(
        default=30.0, description="A claimed job returns to the queue if not renewed in time."
    )
    max_attempts: int = Field(
        default=3, description="A job whose worker died this many times is failed."
    )
    max_queued_per_key: int = Field(
        default=100,
        description="Queued+processing generations one key may have (429 above); a key's "
        "own max_running (the admin API) wins.",
    )
    gpu_seconds_per_day: float = Field(
        default=0.0,
        ge=0,
        description="Worker seconds one key may use in any 24 hours (rolling, by the hour; "
        "429 above); a key's own quota (the admin API) wins (0 = no limit).",
    )
    max_batch_items_per_key: int = Field(
        default=50_000,
        ge=1,
        description="Batch items one key may have waiting or running over its batches "
        "(429 above; a batch holds at most 10,000).",
    )
    prices: str = Field(
        default="",
        description="Operator price table for usage costs and models' pricing: JSON "
        '{"<model>": {"per_image": 0.02, "per_gpu_second": 0.001}, "*": {...}} or a file '
        "holding it (empty: costs are null).",
    )
    price_currency: str = Field(default="USD", description="The currency of EDITSERVE_PRICES.")
    max_batch_size: int = Field(
        default=4,
        description="Generations of one enqueue request run as one pipeline call (1 = off).",
    )
    worker_poll_seconds: float = Field(default=0.5, description="Idle worker poll interval.")
    progress_interval_seconds: float = Field(
        default=0.5, description="Minimum time between progress events of one generation."
    )
    step_timeout_seconds: float = Field(
        default=600.0,
        ge=0,
        description="A worker whose job makes no step progress this long exits (code 4) and "
        "is replaced; its job is requeued with the attempt counted (0 = off).",
    )

    # --- inputs --------------------------------------------------------------------------
    max_input_bytes: int = Field(default=20 * 1024 * 1024, description="Per input image.")
    max_input_pixels: int = Field(default=40_000_000, description="Per input image (w*h).")
    fetch_timeout_seconds: float = Field(default=15.0, description="Input download timeout.")
    fetch_max_redirects: int = Field(default=5, description="Input download redirect limit.")
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts or CIDRs that may be fetched even if private/loopback (comma list).",
    )

    # --- webhooks -------------------------------------------------------------------------
    webhook_timeout_seconds: float = Field(
        default=10.0,
        description=(
            "How long one webhook delivery attempt may take in all: connect, send and the "
            "whole answer."
        ),
    )
    webhook_max_age_seconds: float = Field(
        default=24 * 3600.0,
        description="A failing webhook delivery is retried (backing off) until this old.",
    )
    webhook_poll_seconds: float = Field(
        default=1.0, description="How often an idle API node looks for due webhook deliveries."
    )
    retention_days: PositiveFloat | None = Field(
        default=None, description="Days to keep what ended (API nodes prune hourly); unset: all."
    )

    # --- workers and the model -------------------------------------------------------------
    workers: int | None = Field(
        default=None,
        description="Worker processes `serve` supervises; default one per GPU, one on CPU.",
    )
    gpus: str | None = Field(
        default=None, description="Comma list of CUDA device indexes to use (one worker each)."
    )
    models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Models this server's workers serve (comma list of ids or aliases); default: the "
            "registry's first model. A worker holds one in memory and swaps on demand."
        ),
    )
    model_swap_after_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Several models: a worker keeps its model at least this long while its jobs wait; "
            "then a job of another model that has waited this long goes first (0 = FIFO)."
        ),
    )
    model_weights: str = Field(
        default="auto",
        description=(
            "auto | tiny | a hub id (Qwen/Qwen-Image-Edit-2509) | a local folder. A hub id or "
            "folder is the first served model's; auto and tiny apply to every model."
        ),
    )
    model_weights_per_model: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description=(
            "Weights per model, over EDITSERVE_MODEL_WEIGHTS: id=weights comma list or a JSON "
            'object, e.g. `my-model=tiny,other-model=/models/other` or `{"my-model": "tiny"}`.'
        ),
    )
    tiny_weights_dir: Path | None = Field(
        default=None,
        description="Where the tiny random weights are built/cached; default data_dir/models.",
    )
    model_revision: str | None = Field(
        default=None, description="Hub revision of the (first served model's) weights."
    )
    model_revision_per_model: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Hub revision per model, as EDITSERVE_MODEL_WEIGHTS_PER_MODEL.",
    )
    device: str = Field(default="auto", description="auto | cpu | cuda | cuda:N")
    dtype: str = Field(
        default="auto", description="auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32"
    )
    output_area: int = Field(
        default=NATIVE_AREA,
        ge=32 * 32,
        description="Target output area in pixels (the model's native ~1 MP).",
    )
    preview_area: int = Field(
        default=512 * 512, ge=32 * 32, description="Target area for `preview: true` requests."
    )
    exact_size_min_side: int = Field(
        default=256, ge=16, description="Smallest width or height a request may ask for exactly."
    )
    exact_size_max_side: int = Field(
        default=2048, ge=16, description="Largest width or height a request may ask for exactly."
    )
    exact_size_max_area: int = Field(
        default=2048 * 2048,
        ge=16 * 16,
        description="Largest width x height a request may ask for exactly (4 MP).",
    )
    torch_threads: int | None = Field(default=None, description="torch CPU threads per worker.")

    # --- per-request LoRAs (the `loras` request field) --------------------------------------
    lora_dir: Path | None = Field(
        default=None,
        description=(
            "Folder of the operator's LoRA files (*.safetensors): requests name them by file "
            "name; the models endpoint lists those that fit each model."
        ),
    )
    lora_allow_urls: bool = Field(
        default=False,
        description=(
            "Let requests name an https URL of a .safetensors LoRA (fetched once through the "
            "input-image guard and byte limit, cached by content hash under data_dir/loras)."
        ),
    )
    lora_max_loaded: int = Field(
        default=8, ge=1, description="LoRA adapters a worker keeps loaded (least recently used go)."
    )
    lora_max_loaded_mb: int = Field(
        default=4096,
        ge=1,
        description="Memory the LoRA adapters a worker keeps loaded may take, in MB.",
    )

    # --- speed and memory options of the model (the README's GPU guide) ---------------------
    memory_mode: str = Field(
        default="none",
        description=(
            "none (all weights on the GPU, ~58 GB in bf16) | model_offload (one component on "
            "the GPU at a time) | group_offload (transformer blocks streamed from CPU memory) "
            "| sequential_offload (layer by layer; least memory, slowest). GPU only."
        ),
    )
    group_offload_blocks: int = Field(
        default=1, description="Transformer blocks per group in memory_mode=group_offload."
    )
    lightning: str = Field(
        default="off",
        description=(
            "Step-distilled Lightning LoRA preset: off | 4 | 8. Fuses the LoRA, switches to the "
            "constant-shift-3 scheduler, and makes the preset's steps and CFG 1.0 the defaults."
        ),
    )
    lightning_lora: str | None = Field(
        default=None,
        description=(
            "LoRA file of the Lightning preset: a local .safetensors file, a hub file "
            "owner/repo[@revision]/path.safetensors, or a hub repo laid out like the default "
            "lightx2v/Qwen-Image-Lightning (its file for the preset is used)."
        ),
    )
    attention_backend: str = Field(
        default="native",
        description=(
            "diffusers attention backend: native (PyTorch SDPA) | _native_cudnn | flash | "
            "_flash_3 | sage | xformers | flex | ... (*_hub ones download kernels)."
        ),
    )
    step_cache: str = Field(
        default="off",
        description="Step caching through diffusers' cache hooks: off | first_block.",
    )
    step_cache_threshold: float = Field(
        default=0.08,
        description="First-block cache threshold: higher skips more steps and loses more quality.",
    )
    compile_repeated_blocks: bool = Field(
        default=False,
        description="Regional torch.compile of the transformer blocks (slow first run per size).",
    )
    quantization: str = Field(
        default="none",
        description=(
            "Transformer weights via torchao: none | fp8_weight_only (half the memory) | "
            "fp8_dynamic (W8A8, also faster; needs compute capability 8.9+). CUDA only."
        ),
    )

    log_level: str = Field(
        default="info",
        description=(
            "debug | info | warning | error; the libraries' start-up notices (torch/torchao "
            "deprecations, diffusers' experimental attention backends) show only at `debug`"
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text | json (one object a line, with generation_id, worker_id, stage).",
    )

    @field_validator("fetch_allow_hosts", "cors_origins", "models", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("model_weights_per_model", "model_revision_per_model", mode="before")
    @classmethod
    def _split_map(cls, value: Any) -> Any:
        """`id=value,id2=value2` or a JSON object."""
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("{"):
                return json.loads(value)
            pairs = [part.partition("=") for part in value.split(",") if part.strip()]
            bad = [name for name, eq, val in pairs if not eq or not name.strip() or not val]
            if bad:
                raise ValueError(f"expected model-id=value pairs, got {bad[0]!r}")
            return {name.strip(): val.strip() for name, _, val in pairs}
        return value

    def for_model(self, model_id: str) -> Self:
        """The settings one model's adapter sees (of settings whose model names are ids:
        models.registry.resolve_models): its own weights and revision in
        model_weights / model_revision (per-model values first; EDITSERVE_MODEL_WEIGHTS
        is the first served model's, and every model's when it is auto or tiny)."""
        first = not self.models or self.models[0] == model_id
        shared = self.model_weights.strip().lower() in ("auto", "tiny")
        weights = self.model_weights_per_model.get(model_id) or (
            self.model_weights if first or shared else "auto"
        )
        revision = self.model_revision_per_model.get(model_id) or (
            self.model_revision if first else None
        )
        return self.model_copy(update={"model_weights": weights, "model_revision": revision})

    # --- derived -----------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'editserve.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'files').resolve()}"

    def for_child_env(self) -> dict[str, str]:
        """The settings as EDITSERVE_* variables, for a worker process started by `serve`."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, list | dict):
                env[f"EDITSERVE_{name.upper()}"] = json.dumps(value)
            else:
                env[f"EDITSERVE_{name.upper()}"] = str(value)
        return env


class Settings(NodeLimits, _ServerSettings):
    """Every setting of every process (the groups in order: _ServerSettings, NodeLimits)."""

    model_config = SettingsConfigDict(env_prefix="EDITSERVE_", extra="ignore")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, with explicit overrides (CLI flags) on top."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)
