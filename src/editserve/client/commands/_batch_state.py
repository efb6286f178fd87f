"""What ``editserve batch run`` works from: the plan (the items of a folder of images or of
a manifest.jsonl, each keyed by its content hash and its parameters' hash) and the state
file it keeps in the output folder, so that a run interrupted anywhere resumes without
submitting an item twice.

The state file (``DIR/.editserve-batch.json``), written whole and atomically::

    {"version": 1,
     "uploads": {"<sha256 of a picture>": "<its upload URL>"},
     "items": {"<item key>": {"sources": [...], "output_names": [...], "batch": "batch_…",
                              "index": 3, "generation_id": "…", "status": "succeeded",
                              "outputs": [...], "error": null}},
     "pending": {"idempotency_key": "…", "keys": [...], "body": {...}} or null}

An item's key is ``<content hash>-<parameters hash>``: re-running with the same pictures
and parameters finds it done (its outputs on disk) or in a batch (re-attached, never
resubmitted); a changed picture or parameter is a new item. ``pending`` is a submission
about to be sent: it is written before the POST and sent again with the same
Idempotency-Key on resume, so a batch whose answer was lost is found, not made twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from editserve.client._inputs import is_url

STATE_FILE = ".editserve-batch.json"
MANIFEST = "manifest.jsonl"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_CUSTOM_ID = 256
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

__all__ = [
    "IMAGE_SUFFIXES", "MANIFEST", "STATE_FILE", "Item", "Plan", "State", "digest",
    "local_digests", "wire_request",
]  # fmt: skip


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Item:
    """One distinct request of the plan (sources with the same content and parameters are
    one item: submitted once, its output written under each source's name)."""

    key: str
    request: dict[str, Any]  # local pictures as {"path": ...} until uploaded
    sources: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # output file stems, one per source
    label: str = ""  # a manifest line's own custom_id, if it has one

    @property
    def custom_id(self) -> str:
        """The item's custom_id in the batch: a manifest line's own, else its output name."""
        label = self.label or self.names[0]
        return label if len(label) <= MAX_CUSTOM_ID else f"{label[:200]}-{self.key[:16]}"


@dataclass
class Plan:
    """The items of a run, in source order."""

    source: Path
    items: list[Item]
    local: dict[str, Path]  # sha256 -> a file with that content (to upload)

    @classmethod
    def from_source(cls, source: Path, template: dict[str, Any]) -> Plan:
        if source.is_dir():
            return cls._folder(source, template)
        return cls._manifest(source, template)

    @classmethod
    def _folder(cls, folder: Path, template: dict[str, Any]) -> Plan:
        files = sorted(
            p for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )  # fmt: skip
        if not files:
            raise ValueError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        params = digest(canonical(template))
        local: dict[str, Path] = {}
        entries = []
        for path in files:
            content = digest(path.read_bytes())
            local.setdefault(content, path)
            request = {**template, "input_image": [{"sha256": content}]}
            entries.append((f"{content[:32]}-{params[:16]}", request, path.name, ""))
        return cls(folder, _grouped(entries), local)

    @classmethod
    def _manifest(cls, manifest: Path, template: dict[str, Any]) -> Plan:
        local: dict[str, Path] = {}
        entries = []
        for number, line in _lines(manifest):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{manifest}:{number}: malformed JSON ({exc.msg})") from None
            if not isinstance(raw, dict):
                raise ValueError(f"{manifest}:{number}: a JSON object (a request) per line")
            request = {**template, **raw}
            own = request.pop("custom_id", None)
            label = str(own or f"line-{number:05d}")
            for name in ("input_image", "mask"):
                if request.get(name) not in (None, ""):
                    request[name] = _local_refs(request[name], manifest.parent, local, name)
            key = digest(canonical(request))
            key = f"{key[:32]}-{digest(canonical(template))[:16]}"
            entries.append((key, request, label, str(own or "")))
        if not entries:
            raise ValueError(f"{manifest}: no requests in this file")
        return cls(manifest, _grouped(entries), local)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if line.strip():
                yield number, line


def _local_refs(value: Any, base: Path, local: dict[str, Path], name: str) -> Any:
    """Local paths in a request replaced by their content hash ({"sha256": ...})."""
    many = isinstance(value, list)
    refs = []
    for ref in value if many else [value]:
        if isinstance(ref, str) and not is_url(ref):
            path = (base / ref).expanduser()
            if not path.is_file():
                raise ValueError(f"{name}: {ref!r} is neither a URL nor a file")
            content = digest(path.read_bytes())
            local.setdefault(content, path)
            ref = {"sha256": content}
        refs.append(ref)
    return refs if many else refs[0]


def _grouped(entries: list[tuple[str, dict[str, Any], str, str]]) -> list[Item]:
    items: dict[str, Item] = {}
    stems: dict[str, int] = {}
    for _, _, label, _ in entries:
        stems[Path(label).stem] = stems.get(Path(label).stem, 0) + 1
    for key, request, label, own in entries:
        stem = Path(label).stem
        name = label if stems[stem] > 1 else stem  # cat.png and cat.jpg: both kept
        item = items.setdefault(key, Item(key, request, label=own))
        item.sources.append(label)
        item.names.append(_UNSAFE.sub("_", name)[:200] or "item")
    return list(items.values())


def wire_request(request: Mapping[str, Any], uploads: Mapping[str, str]) -> dict[str, Any]:
    """The request as sent: local pictures replaced by their upload URLs."""

    def ref(value: Any) -> Any:
        if isinstance(value, list):
            return [ref(v) for v in value]
        if isinstance(value, dict) and set(value) == {"sha256"}:
            return uploads[value["sha256"]]
        return value

    return {name: ref(value) if name in ("input_image", "mask") else value
            for name, value in request.items()}  # fmt: skip


class State:
    """The run's memory in the output folder (see the module's docstring)."""

    def __init__(self, out: Path) -> None:
        self.path = out / STATE_FILE
        self.out = out
        self.uploads: dict[str, str] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, Any] | None = None
        self._saved_at = 0.0
        if self.path.exists():
            data = json.loads(self.path.read_text())
            self.uploads = dict(data.get("uploads") or {})
            self.items = dict(data.get("items") or {})
            self.pending = data.get("pending")
        self._writer = {o: k for k, e in self.items.items() for o in e.get("outputs") or []}

    def save(self, *, every: float = 0.0) -> None:
        """Write the state (atomically); with ``every``, only if that long since the last."""
        now = time.monotonic()
        if every and now - self._saved_at < every:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        data = {"version": 1, "uploads": self.uploads, "items": self.items,
                "pending": self.pending}  # fmt: skip
        partial = self.path.with_name(self.path.name + ".part")
        partial.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(partial, self.path)
        self._saved_at = now

    def entry(self, item: Item) -> dict[str, Any]:
        entry = self.items.setdefault(item.key, {})
        entry["sources"], entry["output_names"] = item.sources, item.names
        return entry

    def is_done(self, item: Item) -> bool:
        """Its output is on disk for every source (from this key's own run)."""
        outputs = self.items.get(item.key, {}).get("outputs") or []
        return len(outputs) == len(item.sources) and all((self.out / o).is_file() for o in outputs)

    def claim_outputs(self, key: str, outputs: list[str]) -> None:
        """Record ``outputs`` as ``key``'s: an older item that wrote the same files (another
        prompt, say) is no longer done."""
        for output in outputs:
            other = self._writer.get(output)
            if other is not None and other != key and other in self.items:
                previous = self.items[other].get("outputs") or []
                self.items[other]["outputs"] = [o for o in previous if o != output]
            self._writer[output] = key
        self.items[key]["outputs"] = outputs


def local_digests(request: Mapping[str, Any]) -> Iterator[str]:
    """The content hashes of the local pictures a planned request names."""
    for name in ("input_image", "mask"):
        value = request.get(name)
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, dict) and set(ref) == {"sha256"}:
                yield ref["sha256"]
