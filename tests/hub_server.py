"""A small Hugging Face Hub on loopback: serves folders as model repos to huggingface_hub.

Point a process at it with ``HF_ENDPOINT=<hub.url>`` (or pass ``endpoint=``). It answers the
calls huggingface_hub 2.x makes for ``snapshot_download`` / ``hf_hub_download`` and for
``editserve pull``:

- ``GET /api/models/{repo}[/revision/{rev}]`` — the commit (``sha``) and ``siblings``;
- ``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=…`` — paths, sizes, git oids and,
  for LFS files, ``lfs.oid`` (sha256) and ``lfs.size``;
- ``HEAD|GET /{repo}/resolve/{rev}/{path}`` — ``X-Repo-Commit``, ``ETag`` (git oid); LFS files
  answer ``302`` to a "CDN" on another host name (``localhost``) with ``X-Linked-Etag``
  (sha256) and ``X-Linked-Size``, as the real hub does, and the CDN honours ``Range``;
- errors carry ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound).

Knobs for tests: ``rate`` (bytes per second per body), ``drop_after`` (close the connection
once after that many body bytes of each LFS file), ``hold_after`` (stop sending LFS bodies
after that many bytes until ``release`` is set; ``holding`` is set meanwhile), ``corrupt``
(paths whose bytes are served altered), ``requests`` (what was asked, with the Range header).
Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 64 * 1024


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class HubFile:
    path: str
    data: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        return git_blob_id(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.oid


@dataclass
class HubRepo:
    commits: dict[str, dict[str, HubFile]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


@dataclass
class Request:
    method: str
    path: str
    range: str | None


class FakeHub:
    """A hub on 127.0.0.1 (and its CDN on localhost): ``with FakeHub() as hub: ...``."""

    def __init__(
        self,
        *,
        rate: float | None = None,
        drop_after: int | None = None,
        hold_after: int | None = None,
    ) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.rate = rate
        self.drop_after = drop_after
        self.hold_after = hold_after
        self.release = threading.Event()
        self.holding = threading.Event()
        self.corrupt: set[str] = set()
        self.dropped: set[str] = set()
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- content ---------------------------------------------------------------------------
    def add_repo(
        self,
        repo: str,
        folder: Path,
        *,
        ref: str = "main",
        lfs_suffixes: tuple[str, ...] = (".safetensors",),
    ) -> str:
        """Serve every file under `folder` as `repo` at a new commit that `ref` points to."""
        files = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }
        return self.add_files(repo, files, ref=ref, lfs_suffixes=lfs_suffixes)

    def add_files(
        self,
        repo: str,
        files: dict[str, bytes],
        *,
        ref: str = "main",
        lfs_suffixes: tuple[str, ...] = (".safetensors",),
    ) -> str:
        entries = {
            path: HubFile(path, data, path.endswith(lfs_suffixes)) for path, data in files.items()
        }
        digest = hashlib.sha1(repo.encode())
        for path in sorted(entries):
            digest.update(f"{path}\0{entries[path].etag}\n".encode())
        target = self.repos.setdefault(repo, HubRepo())
        digest.update(str(len(target.commits)).encode())
        commit = digest.hexdigest()
        target.commits[commit] = entries
        target.refs[ref] = commit
        return commit

    # --- server ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn(self) -> str:
        return f"http://localhost:{self.port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def body_gets(self) -> list[Request]:
        """The GETs of file contents (from /resolve or the CDN), in order."""
        return [
            r
            for r in self.requests
            if r.method == "GET" and ("/resolve/" in r.path or r.path.startswith("/cdn/"))
        ]


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return None

    # --- routing ---------------------------------------------------------------------------
    def do_HEAD(self) -> None:  # noqa: N802
        self._route(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._route(body=True)

    def _route(self, *, body: bool) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        self.hub.requests.append(Request(self.command, path, self.headers.get("Range")))
        query = parse_qs(parts.query)
        if path.startswith("/api/models/"):
            return self._api(path.removeprefix("/api/models/"), query)
        if path.startswith("/cdn/"):
            return self._cdn(path.removeprefix("/cdn/"), body)
        if "/resolve/" in path:
            return self._resolve(path.lstrip("/"), body)
        return self._error(404, "EntryNotFound", f"no route {path}")

    def _repo(self, text: str) -> tuple[str, HubRepo, str] | None:
        """'owner/name/rest' → (repo id, repo, rest)."""
        pieces = text.split("/", 2)
        if len(pieces) < 2:
            return None
        repo_id = "/".join(pieces[:2])
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(401, "RepoNotFound", f"Repository Not Found for url: {self.path}")
            return None
        return repo_id, repo, pieces[2] if len(pieces) > 2 else ""

    # --- API ---------------------------------------------------------------------------------
    def _api(self, text: str, query: dict[str, list[str]]) -> None:
        found = self._repo(text)
        if found is None:
            return
        repo_id, repo, rest = found
        kind, _, tail = rest.partition("/")
        if kind in ("", "revision"):
            revision = tail or "main"
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            siblings = [{"rfilename": p} for p in sorted(repo.commits[commit])]
            info = {"id": repo_id, "modelId": repo_id, "sha": commit, "siblings": siblings}
            return self._json({**info, "private": False, "tags": [], "library_name": "diffusers"})
        if kind == "tree":
            revision, _, sub = tail.partition("/")
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
            return self._json(_tree(repo.commits[commit], sub, recursive))
        return self._error(404, "EntryNotFound", f"no API route {rest}")

    # --- files ---------------------------------------------------------------------------------
    def _resolve(self, text: str, body: bool) -> None:
        found = self._repo(text)
        if found is None:
            return
        repo_id, repo, rest = found
        _, revision, path = (rest.split("/", 2) + ["", ""])[:3]
        commit = repo.resolve(revision)
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        file = repo.commits[commit].get(path)
        if file is None:
            return self._error(404, "EntryNotFound", f"{path} does not exist", commit)
        if file.lfs:
            self.send_response(302)
            self.send_header("Location", f"{self.hub.cdn}/cdn/{repo_id}/{file.sha256}")
            self.send_header("X-Repo-Commit", commit)
            self.send_header("X-Linked-Etag", f'"{file.sha256}"')
            self.send_header("X-Linked-Size", str(len(file.data)))
            self.send_header("ETag", f'"{file.oid}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._bytes(file, body, commit=commit)

    def _cdn(self, text: str, body: bool) -> None:
        repo_id, _, sha256 = text.rpartition("/")
        repo = self.hub.repos.get(repo_id)
        files = [f for c in (repo.commits.values() if repo else []) for f in c.values()]
        file = next((f for f in files if f.lfs and f.sha256 == sha256), None)
        if file is None:
            return self._error(404, "EntryNotFound", "no such blob")
        return self._bytes(file, body, commit=None)

    def _bytes(self, file: HubFile, body: bool, *, commit: str | None) -> None:
        size = len(file.data)
        start = _range_start(self.headers.get("Range"), size)
        status = 206 if start is not None else 200
        start = start or 0
        self.send_response(status)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{file.etag}"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        if body:
            self._send_body(file, start)
        return None

    def _send_body(self, file: HubFile, start: int) -> None:
        hub = self.hub
        drop = hub.drop_after if file.lfs and file.sha256 not in hub.dropped else None
        data = file.data
        if file.path in hub.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        sent = 0
        for offset in range(start, len(data), CHUNK):
            chunk = data[offset : offset + CHUNK]
            if file.lfs and hub.hold_after is not None and offset >= hub.hold_after:
                self.wfile.flush()
                hub.holding.set()
                hub.release.wait()
            if drop is not None and sent + len(chunk) > drop:
                hub.dropped.add(file.sha256)
                self.wfile.write(chunk[: max(0, drop - sent)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.close()  # the client sees a short body
                return
            try:
                self.wfile.write(chunk)
            except OSError:  # the client went away (Ctrl-C)
                return
            sent += len(chunk)
            if hub.rate:
                time.sleep(len(chunk) / hub.rate)

    # --- answers -------------------------------------------------------------------------------
    def _json(self, value: Any) -> None:
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        data = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _range_start(header: str | None, size: int) -> int | None:
    if not header or not header.startswith("bytes="):
        return None
    first = header.removeprefix("bytes=").split(",")[0].split("-")[0]
    return min(int(first), size) if first.isdigit() else None


def _tree(files: dict[str, HubFile], sub: str, recursive: bool) -> list[dict[str, Any]]:
    prefix = f"{sub.strip('/')}/" if sub.strip("/") else ""
    entries: dict[str, dict[str, Any]] = {}
    for path, file in sorted(files.items()):
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        folders = rest.split("/")[:-1]
        for depth in range(len(folders)):
            folder = prefix + "/".join(folders[: depth + 1])
            if recursive or depth == 0:
                entries.setdefault(
                    folder, {"type": "directory", "oid": "0" * 40, "size": 0, "path": folder}
                )
        if not recursive and folders:
            continue
        entry: dict[str, Any] = {
            "type": "file",
            "oid": file.oid,
            "size": len(file.data),
            "path": path,
        }
        if file.lfs:
            entry["lfs"] = {"oid": file.sha256, "size": len(file.data), "pointerSize": 134}
        entries[path] = entry
    return list(entries.values())


__all__ = ["FakeHub", "HubFile", "git_blob_id"]
