"""Reading a member's weights into its pipeline: device and dtype, checking a pipeline
folder, ``from_pretrained``. Where the weights come from is request/weights_choice.py (pure);
every choice (hub, local folder, tiny twin) loads through the same ``from_pretrained`` call.
torch and diffusers are imported inside the loading functions.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editserve.models.base import ModelLoadError
from editserve.models.qwen_image_edit.request.options import hub_offline
from editserve.models.qwen_image_edit.request.weights_choice import (
    WeightsChoice,
)
from editserve.models.qwen_image_edit.runtime.fingerprint import folder_fingerprint, snapshot_commit
from editserve.models.qwen_image_edit.runtime.shared import Reuse
from editserve.models.qwen_image_edit.tiny.build import MARKER_FILE, ensure_tiny_weights
from editserve.models.qwen_image_edit.variant import TINY_SOURCE, QwenVariant

logger = logging.getLogger("editserve.model")

_DTYPES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float32": "float32",
    "float": "float32",
}


def resolve_device(requested: str, cuda_available: bool, cuda_count: int = 0) -> str:
    """``auto`` → ``cuda`` if available else ``cpu``; check explicit CUDA devices exist."""
    value = (requested or "auto").strip().lower()
    if value == "auto":
        return "cuda" if cuda_available else "cpu"
    if value == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", value)
    if not match:
        raise ModelLoadError(f"device {requested!r} is not one of auto, cpu, cuda, cuda:N")
    if not cuda_available:
        raise ModelLoadError(f"device {requested!r} was asked for but CUDA is not available")
    if match.group(1) is not None and int(match.group(1)) >= cuda_count:
        raise ModelLoadError(
            f"device {requested!r} does not exist: this machine has {cuda_count} CUDA device(s)"
        )
    return value


def resolve_dtype(requested: str, device: str) -> str:
    """``auto`` → bfloat16 on CUDA, float32 on the CPU; explicit names are honoured."""
    value = (requested or "auto").strip().lower()
    if value == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    if value not in _DTYPES:
        raise ModelLoadError(f"dtype {requested!r} is not one of auto, bf16, fp16, fp32")
    return _DTYPES[value]


def short_error(exc: BaseException) -> str:
    """One line for an error message: the exception's first line, not a traceback."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


# --- checking a folder -----------------------------------------------------------------------


def check_pipeline_folder(folder: Path, variant: QwenVariant) -> None:
    """Raise ModelLoadError unless `folder` looks like a saved pipeline of `variant`."""
    pipeline_class = variant.pipeline_class
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        raise ModelLoadError(
            f"{folder} is not a diffusers pipeline folder (no model_index.json); "
            f"it must hold a saved {pipeline_class}"
        )
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{index_file} is not readable JSON: {exc}") from None
    class_name = index.get("_class_name") if isinstance(index, dict) else None
    if class_name != pipeline_class:
        raise ModelLoadError(
            f"{folder} holds a {class_name or 'unknown pipeline'}, not a {pipeline_class} "
            f"({variant.display}); point EDITSERVE_MODEL_WEIGHTS at the right folder"
        )
    missing = [
        name for name in variant.components if name not in index or not (folder / name).is_dir()
    ]
    if missing:
        raise ModelLoadError(f"{folder} is missing pipeline component(s): {', '.join(missing)}")


def check_pipeline_folder_index_only(index_path: Path, where: str, variant: QwenVariant) -> None:
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model_index.json of {where} is not readable JSON: {exc}") from None
    class_name = index.get("_class_name") if isinstance(index, dict) else None
    if class_name != variant.pipeline_class:
        raise ModelLoadError(
            f"{where} holds a {class_name or 'unknown pipeline'}, not a {variant.pipeline_class}"
        )


def is_tiny_folder(folder: Path) -> bool:
    """True if `folder` carries the tiny builder's marker."""
    return (folder / MARKER_FILE).is_file()


# --- loading -------------------------------------------------------------------------------------

NO_REUSE = Reuse({}, 0)
# The folder a pipeline's components will be read from (None: not known) → what of the
# previous model's components it can take instead (see shared.py).
ReuseFinder = Callable[[Path | None], Reuse]


@dataclass(frozen=True)
class Weights:
    """A pipeline read from the chosen weights, and what to record about them."""

    pipe: Any
    source: str  # hub id, folder path, or "tiny-random"
    revision: str | None
    is_tiny: bool
    folder: Path | None  # None for hub weights
    weights_hash: dict[str, Any] | None  # None for hub weights
    # Where the components were read from (for hub weights: the cache snapshot), and what
    # was taken from the previous model instead of read (see shared.py).
    components_folder: Path | None = None
    reused: Reuse = NO_REUSE


def load_weights(
    choice: WeightsChoice,
    dtype_name: str,
    *,
    offline: bool = False,
    variant: QwenVariant,
    reuse: ReuseFinder = lambda _folder: NO_REUSE,
) -> Weights:
    """Read the pipeline from the tiny model, a local folder or the hub (`offline`: the hub
    files are in the cache already, fetched with their progress reported: read only it).
    `reuse(folder)` gives the previous model's components this one can take as they are."""
    if choice.kind == "tiny":
        return _load_tiny(choice, dtype_name, variant, reuse)
    if choice.kind == "local":
        folder = Path(choice.location)
        check_pipeline_folder(folder, variant)
        source, is_tiny = str(folder), is_tiny_folder(folder)
        revision = snapshot_commit(folder)
        reused = reuse(folder)
        pipe = from_pretrained(
            str(folder), dtype_name, local=True, variant=variant, components=reused.components
        )
        fingerprint = folder_fingerprint(folder)
        return Weights(pipe, source, revision, is_tiny, folder, fingerprint, folder, reused)
    offline = offline or hub_offline()
    index = check_hub(choice.location, choice.revision, offline=offline, variant=variant)
    snapshot = index.parent if offline else None  # all files are there only when fetched
    reused = reuse(snapshot)
    pipe = from_pretrained(
        choice.location,
        dtype_name,
        local=offline,
        revision=choice.revision,
        variant=variant,
        components=reused.components,
    )
    revision = _commit_of(index) or choice.revision
    return Weights(pipe, choice.location, revision, False, None, None, snapshot, reused)


def _load_tiny(
    choice: WeightsChoice, dtype_name: str, variant: QwenVariant, reuse: ReuseFinder
) -> Weights:
    if choice.auto_fallback:
        _warn_tiny_fallback(variant)
    else:
        logger.info("loading the tiny random-weight model (outputs are noise)")
    try:
        folder = ensure_tiny_weights(Path(choice.location), variant)
    except Exception as exc:
        raise ModelLoadError(
            f"could not build the tiny model in {choice.location}: {short_error(exc)}"
        ) from exc
    reused = reuse(folder)
    pipe = from_pretrained(
        str(folder), dtype_name, local=True, variant=variant, components=reused.components
    )
    fingerprint = folder_fingerprint(folder)
    return Weights(pipe, TINY_SOURCE, choice.revision, True, folder, fingerprint, folder, reused)


def from_pretrained(
    location: str,
    dtype_name: str,
    *,
    local: bool,
    revision: str | None = None,
    variant: QwenVariant,
    components: dict[str, Any] | None = None,
) -> Any:
    """``<variant's pipeline class>.from_pretrained``, its failures as ModelLoadError;
    ``components`` are passed as they are (not read again)."""
    import diffusers
    import torch

    pipeline_type: Any = getattr(diffusers, variant.pipeline_class)
    pipeline_class = variant.pipeline_class

    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype_name), **(components or {})}
    if local:
        kwargs["local_files_only"] = True
    if revision:
        kwargs["revision"] = revision
    try:
        pipe = pipeline_type.from_pretrained(location, **kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:
        where = f"{location}@{revision}" if revision else location
        raise ModelLoadError(
            f"could not load {pipeline_class} from {where}: {short_error(exc)}"
        ) from exc
    if not isinstance(pipe, pipeline_type):
        raise ModelLoadError(f"{location} loaded as {type(pipe).__name__}, not {pipeline_class}")
    return pipe


def check_hub(
    repo_id: str, revision: str | None, *, offline: bool = False, variant: QwenVariant
) -> Path:
    """Fetch model_index.json first: clear errors; its path in the cache names the commit
    actually used (``.../snapshots/<commit>/model_index.json``, see :func:`_commit_of`)."""
    offline = offline or hub_offline()
    where = f"{repo_id}@{revision}" if revision else repo_id
    index_path = _download_model_index(repo_id, revision, where, offline)
    check_pipeline_folder_index_only(index_path, where, variant)
    return index_path


def _commit_of(index_path: Path) -> str | None:
    commit = index_path.parent.name
    return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _download_model_index(repo_id: str, revision: str | None, where: str, offline: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(
            hf_hub_download(
                repo_id, "model_index.json", revision=revision, local_files_only=offline
            )
        )
    except GatedRepoError:
        raise ModelLoadError(
            f"{where} is gated on the Hugging Face Hub: accept its terms and set HF_TOKEN"
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"{where} was not found on the Hugging Face Hub (or needs a token: set HF_TOKEN)"
        ) from None
    except RevisionNotFoundError:
        raise ModelLoadError(f"revision {revision!r} of {repo_id} does not exist") from None
    except HFValidationError as exc:
        raise ModelLoadError(f"{repo_id!r} is not a valid hub id: {short_error(exc)}") from None
    except LocalEntryNotFoundError:
        if offline:
            reason = "HF_HUB_OFFLINE is set and it is not in the local Hugging Face cache"
        else:
            reason = "the Hugging Face Hub is unreachable and it is not in the local cache"
        raise ModelLoadError(
            f"cannot load {where}: {reason}. Download it where the hub is reachable "
            f"(editserve pull) or set EDITSERVE_MODEL_WEIGHTS to a local folder"
        ) from None
    except Exception as exc:
        raise ModelLoadError(
            f"cannot reach the Hugging Face Hub for {where}: {short_error(exc)}"
        ) from None


def _warn_tiny_fallback(variant: QwenVariant) -> None:
    bar = "!" * 78
    logger.warning(
        "\n%s\n"
        "EDITSERVE_MODEL_WEIGHTS=auto and no CUDA GPU is available: loading the TINY\n"
        "RANDOM-WEIGHT model. Every output will be noise, not an edit of your image.\n"
        "On a GPU machine use EDITSERVE_MODEL_WEIGHTS=%s (or a local folder);\n"
        "set EDITSERVE_MODEL_WEIGHTS=tiny to ask for the tiny model explicitly.\n"
        "%s",
        bar,
        variant.hub_id,
        bar,
    )
