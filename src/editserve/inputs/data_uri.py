"""Decoding ``data:image/<type>;base64,<data>`` references (on a check thread: see
resolver.py, which holds the budget for the copies made here).

The text is copied once (the part after the comma) where it is plain base64; spaces, the
URL-safe alphabet and missing padding, all accepted, cost a copy more each. The base64 is
validated strictly either way.
"""

from __future__ import annotations

import binascii
import re

from editserve.core.errors import InvalidParams

_DATA_URI_RE = re.compile(
    r"data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<data>.*)", re.DOTALL | re.IGNORECASE
)
_DATA_MIME_TYPES = {
    "image/png",
    "image/jpeg",
    "image/jpg",
    "image/pjpeg",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/x-bmp",
    "image/x-ms-bmp",
}
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_SPACE = re.compile(r"\s+")
_URL_SAFE = str.maketrans("-_", "+/")


def decode_data_uri(field: str, ref: str, *, max_bytes: int) -> bytes:
    """The bytes of a data URI (on a check thread). The text is copied once (the part
    after the comma) where it is plain base64; spaces, the URL-safe alphabet and
    missing padding cost a copy more each."""
    comma = ref.find(",")
    match = _DATA_URI_RE.fullmatch(ref[: comma + 1] if comma >= 0 else ref)
    if match is None:
        raise InvalidParams(
            f"{field}: malformed data URI; expected data:image/<type>;base64,<data>"
        )
    mime = match["mime"].strip().lower()
    params = [p.strip().lower() for p in match["params"].split(";") if p.strip()]
    if mime not in _DATA_MIME_TYPES:
        raise InvalidParams(
            f"{field}: data URI has media type {mime or '(none)'!r}; expected one of "
            "image/png, image/jpeg, image/webp, image/gif, image/bmp"
        )
    if "base64" not in params:
        raise InvalidParams(f"{field}: data URI must be base64-encoded (';base64,')")
    data = _base64(field, ref[comma + 1 :], max_bytes)
    limit = max_bytes
    if not data:
        raise InvalidParams(f"{field}: data URI is empty")
    if len(data) > limit:
        raise InvalidParams(
            f"{field}: image is {len(data)} bytes, over the limit of {limit} bytes "
            "(max_input_bytes)"
        )
    return data


def _base64(field: str, text: str, limit: int) -> bytes:
    if _SPACE.search(text):
        text = _SPACE.sub("", text)
    if len(text) * 3 // 4 > limit + 2:
        raise InvalidParams(
            f"{field}: image is larger than the limit of {limit} bytes (max_input_bytes)"
        )
    if "-" in text or "_" in text:  # the URL-safe alphabet is accepted too
        text = text.translate(_URL_SAFE)
    if len(text) % 4:
        text += "=" * (-len(text) % 4)
    if not _BASE64.fullmatch(text):
        raise InvalidParams(f"{field}: data URI has malformed base64 data")
    try:
        return binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        raise InvalidParams(f"{field}: data URI has malformed base64 data") from None
