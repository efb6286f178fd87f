"""A worker's start-up you can follow: the downloads it needs, the components it loads.

``fetch_for_load`` brings the weights (and the Lightning LoRA) into the Hugging Face cache
before anything loads, reporting the ``downloading`` stage with bytes done and total, so no
download happens silently inside ``from_pretrained``. ``component_progress`` reports
``loading`` component k of n while diffusers reads the pipeline.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from editserve.domain.stages import Stage, StageCallback, fmt_bytes
from editserve.hub.cache import default_cache_dir
from editserve.hub.fetch import Fetcher, bytes_to_fetch, check_disk, plan_all, record, verify
from editserve.hub.plan import HubError, HubUnreachable
from editserve.hub.transfer import TransferCancelled
from editserve.models.base import ModelLoadError
from editserve.models.qwen_image_edit.request.options import ModelOptions, hub_offline
from editserve.models.qwen_image_edit.request.sources import hub_sources
from editserve.models.qwen_image_edit.runtime.weights import WeightsChoice

logger = logging.getLogger("editserve.model")

# diffusers' loop over a pipeline's components is wrapped in a progress bar with this text.
COMPONENTS_DESC = "Loading pipeline components..."


def fetch_for_load(choice: WeightsChoice, options: ModelOptions, report: StageCallback) -> bool:
    """Download what the load reads from the hub, reporting it. True when all of it is in
    the cache now (the load then reads the cache only); False when the hub was not asked
    (offline, unreachable, nothing from the hub): the load then uses what the cache holds."""
    sources = hub_sources(choice, options)
    if not sources or hub_offline():
        return False
    cache_dir = default_cache_dir()
    try:
        plans = plan_all(sources, cache_dir=cache_dir)
    except HubUnreachable as exc:
        logger.warning("%s; loading from the local Hugging Face cache", exc)
        return False
    except HubError as exc:
        raise ModelLoadError(str(exc)) from None
    missing = bytes_to_fetch(plans)
    try:
        if missing:
            check_disk(plans, cache_dir)
            logger.info(
                "downloading %s into %s: %s",
                fmt_bytes(missing),
                cache_dir,
                ", ".join(plan.source.describe() for plan in plans),
            )
            fetched = Fetcher(
                plans, on_progress=lambda progress: report(Stage.DOWNLOADING, progress.detail())
            ).run()
            logger.info(
                "downloaded %s in %.0fs", fmt_bytes(fetched.downloaded_bytes), fetched.seconds
            )
        else:
            for plan in plans:
                verify(plan)
                record(plan)
    except (HubError, TransferCancelled) as exc:
        raise ModelLoadError(f"could not download the weights: {exc}") from None
    return True


@contextlib.contextmanager
def component_progress(report: StageCallback) -> Iterator[None]:
    """Report ``loading`` component k of n while diffusers loads a pipeline.

    diffusers iterates over the components inside ``logging.tqdm(..., desc=COMPONENTS_DESC)``;
    that one call is wrapped to report each component as it starts. Any other progress bar
    goes to diffusers as before. If diffusers stops using it, loading simply reports no k/n.
    """
    import diffusers.utils.logging as diffusers_logging

    original = diffusers_logging.tqdm

    class _Reporting:
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("desc") == COMPONENTS_DESC and args:
                return _each_reported(args[0], report)
            return original(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(original, name)

    diffusers_logging.tqdm = _Reporting()  # type: ignore[assignment]
    try:
        yield
    finally:
        diffusers_logging.tqdm = original


def _each_reported(items: Iterable[Any], report: StageCallback) -> Iterator[Any]:
    listed = list(items)
    for index, item in enumerate(listed, 1):
        name = item[0] if isinstance(item, tuple) else str(item)
        report(Stage.LOADING, {"component": name, "index": index, "count": len(listed)})
        yield item


__all__ = ["component_progress", "fetch_for_load"]
