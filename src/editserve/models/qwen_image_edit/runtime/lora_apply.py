"""Applying a job's LoRAs to the loaded pipeline through diffusers' adapter API.

Each LoRA file is loaded once per worker (``load_lora_weights`` under an adapter named by
its content hash) and kept in a least-recently-used set bounded by count and bytes
(``EDITSERVE_LORA_MAX_LOADED`` / ``_MB``); a job activates its own with their scales
(``set_adapters``), and every adapter is disabled again after the call, so a job without
LoRAs runs the bare weights. A LoRA that cannot be found, fetched or loaded refuses the job
(:class:`JobRefused`, naming the LoRA): the worker records the failure and goes on.

torch and diffusers are imported by the pipeline, never here.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editserve.core.settings import Settings
from editserve.models.base import JobRefused
from editserve.models.qwen_image_edit.request.lora_check import LoraMismatch, check_file
from editserve.models.qwen_image_edit.request.loras import (
    SUFFIX,
    LoraNotFound,
    content_hash,
    locate,
)

logger = logging.getLogger("editserve.model")


@dataclass(frozen=True)
class LoadedLora:
    adapter: str  # the adapter's name in the transformer
    sha256: str
    size_bytes: int


class LoraSet:
    """The LoRA adapters a worker's pipeline holds, least recently used first."""

    def __init__(self, settings: Settings, model_id: str) -> None:
        self.settings = settings
        self.model_id = model_id
        self._loaded: OrderedDict[str, LoadedLora] = OrderedDict()

    @property
    def loaded(self) -> list[str]:
        return list(self._loaded)

    @contextmanager
    def applied(self, pipe: Any, loras: tuple[tuple[str, float], ...]) -> Iterator[list[dict]]:
        """Activate `loras` ((path, scale) pairs) for one call; yield their receipts.

        Every adapter is disabled when the call ends, however it ends."""
        if not loras:
            yield []
            return
        files = [(path, scale, self._file(path)) for path, scale in loras]
        active: list[tuple[str, float, LoadedLora]] = []
        for path, scale, file in files:
            keep = {lora.adapter for _p, _s, lora in active}
            active.append((path, scale, self._load(pipe, path, file, keep)))
        weights: dict[str, float] = {}
        for _path, scale, lora in active:  # the same file twice: the scales add up
            weights[lora.adapter] = weights.get(lora.adapter, 0.0) + float(scale)
        try:
            pipe.transformer.enable_lora()
            pipe.set_adapters(list(weights), list(weights.values()))
            yield [
                {"path": path, "sha256": lora.sha256, "scale": float(scale)}
                for path, scale, lora in active
            ]
        finally:
            _disable(pipe)

    # --- finding and loading --------------------------------------------------------------
    def _file(self, path: str) -> Path:
        try:
            where = locate(path, self.settings)
        except LoraNotFound as exc:
            raise JobRefused(f"LoRA {path!r} cannot be used: {exc}") from None
        if where.file is not None:
            return where.file
        return self._fetched(path)

    def _fetched(self, url: str) -> Path:
        """A LoRA URL's file: fetched once (input-image limits), cached by content hash."""
        import anyio

        from editserve.net.fetch import Fetcher, FetchError

        cache = Path(self.settings.data_dir) / "loras"
        index = cache / "urls" / hashlib.sha256(url.encode()).hexdigest()
        if index.is_file():
            cached = cache / (index.read_text().strip() + SUFFIX)
            if cached.is_file():
                return cached
        fetcher = Fetcher.from_settings(self.settings)
        try:
            fetched = anyio.run(fetcher.fetch, url)
        except FetchError as exc:
            message = str(exc).replace("image is", "the file is")
            raise JobRefused(f"LoRA {url!r} could not be fetched: {message}") from None
        digest = hashlib.sha256(fetched.data).hexdigest()
        target = cache / (digest + SUFFIX)
        index.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, fetched.data)
        _write_atomically(index, digest.encode())
        return target

    def _load(self, pipe: Any, path: str, file: Path, keep: set[str]) -> LoadedLora:
        sha = content_hash(file)
        adapter = f"lora_{sha[:16]}"
        if adapter in self._loaded:
            self._loaded.move_to_end(adapter)
            return self._loaded[adapter]
        config = dict(pipe.transformer.config)
        try:
            check_file(file, [config])
        except LoraMismatch as exc:
            raise JobRefused(f"LoRA {path!r} {exc}") from None
        self._make_room(pipe, file.stat().st_size, keep)
        try:
            pipe.load_lora_weights(str(file), adapter_name=adapter)
        except Exception as exc:  # noqa: BLE001 - a LoRA that fails to load refuses the job
            logger.warning("LoRA %s (%s) failed to load: %r", path, file, exc)
            self._forget(pipe, adapter)
            raise JobRefused(f"LoRA {path!r} could not be loaded into {self.model_id}") from None
        finally:
            _disable(pipe)  # loading activates the new adapter: off until a job asks
        lora = LoadedLora(adapter, sha, file.stat().st_size)
        self._loaded[adapter] = lora
        return lora

    def _make_room(self, pipe: Any, incoming: int, keep: set[str]) -> None:
        """Unload the least recently used adapters (not those in `keep`) until one more of
        `incoming` bytes fits the count and memory bounds."""
        limit_count = self.settings.lora_max_loaded
        limit_bytes = self.settings.lora_max_loaded_mb * 1024 * 1024
        for adapter in [name for name in self._loaded if name not in keep]:
            total = sum(lora.size_bytes for lora in self._loaded.values())
            if len(self._loaded) < limit_count and total + incoming <= limit_bytes:
                return
            self._forget(pipe, adapter)

    def _forget(self, pipe: Any, adapter: str) -> None:
        self._loaded.pop(adapter, None)
        try:
            known = {name for names in pipe.get_list_adapters().values() for name in names}
            if adapter in known:
                pipe.delete_adapters(adapter)
        except Exception as exc:  # noqa: BLE001 - logged; the adapter stays disabled
            logger.warning("could not unload LoRA adapter %s: %r", adapter, exc)


def _disable(pipe: Any) -> None:
    """Turn every LoRA adapter off (a no-op while none was ever loaded)."""
    if getattr(pipe.transformer, "_hf_peft_config_loaded", False):
        pipe.transformer.disable_lora()


def _write_atomically(target: Path, data: bytes) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, target)
