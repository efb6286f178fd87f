"""Picture references of a request (``input_image`` items, ``mask``, ``control.image``):
what their text must look like before anything is fetched. No I/O."""

from __future__ import annotations

# An input_image URL is stored with its generation: bounded like the webhook URL. A data:
# URI is not stored (only its decoded image, bounded by max_input_bytes).
MAX_IMAGE_URL_CHARS = 2048


def check_image_refs(value: list[str]) -> list[str]:
    """``input_image`` items: http(s) URLs (bounded), data:image/ URIs or upload URLs."""
    for index, ref in enumerate(value):
        lowered = ref[:64].lower()
        if not (
            lowered.startswith("http://")
            or lowered.startswith("https://")
            or lowered.startswith("data:image/")
        ):
            raise ValueError(
                f"item {index}: must be an http(s) URL, a data:image/...;base64, URI "
                "or an upload URL"
            )
        if not lowered.startswith("data:") and len(ref) > MAX_IMAGE_URL_CHARS:
            raise ValueError(
                f"item {index}: a URL must be at most {MAX_IMAGE_URL_CHARS} characters "
                f"(got {len(ref)})"
            )
    return value


def check_image_ref(value: str) -> str:
    """One reference (``mask``, ``control.image``): the same rules, worded without an index."""
    try:
        check_image_refs([value])
    except ValueError as exc:
        raise ValueError(str(exc).removeprefix("item 0: ")) from None
    return value


__all__ = ["MAX_IMAGE_URL_CHARS", "check_image_ref", "check_image_refs"]
