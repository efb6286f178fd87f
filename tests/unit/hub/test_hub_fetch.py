"""Fetching hub files into the Hugging Face cache, against a hub on loopback (no network):
the layout huggingface_hub reads, progress, resume after a dropped connection and after an
interruption, revision pinning, the disk check, corruption, and worded errors."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock
from fixtures.hub_server import FakeHub
from fixtures.support import free_port

from editserve.hub.cache import RepoCache
from editserve.hub.fetch import Fetcher, NotEnoughDisk, Progress, check_disk, plan_all
from editserve.hub.plan import HubError, HubUnreachable, cache_state, plan_source
from editserve.hub.sources import HubFiles
from editserve.hub.transfer import TransferCancelled

REPO = "test-org/tiny-model"
MB = 1024 * 1024


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def repo_files(seed: int = 0) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {
        "model_index.json": json.dumps({"_class_name": "Tiny", "seed": seed}).encode(),
        "README.md": b"# tiny\n",
        "weights/config.json": b'{"layers": 2}',
        "weights/model.safetensors": rng.randbytes(3 * MB + 12345),
    }


@pytest.fixture
def hub() -> FakeHub:
    with FakeHub() as server:
        yield server


def fetch(hub: FakeHub, cache: Path, source: HubFiles, **kwargs: object) -> tuple[object, list]:
    seen: list[Progress] = []
    plans = plan_all([source], cache_dir=cache, endpoint=hub.url)
    report = Fetcher(
        plans,
        endpoint=hub.url,
        on_progress=lambda p: seen.append(Progress(**{**p.__dict__, "current": []})),
        **kwargs,  # type: ignore[arg-type]
    ).run()
    return report, seen


def test_fetched_files_are_where_huggingface_hub_finds_them(hub: FakeHub, tmp_path: Path) -> None:
    from huggingface_hub import hf_hub_download, snapshot_download

    files = repo_files()
    commit = hub.add_files(REPO, files)
    report, seen = fetch(hub, tmp_path, HubFiles(REPO))

    total = sum(len(data) for data in files.values())
    assert report.downloaded_bytes == total
    assert seen[-1].bytes_done == seen[-1].bytes_total == total
    assert seen[-1].files_done == seen[-1].files_total == len(files)
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)  # only forward
    folder = Path(snapshot_download(REPO, cache_dir=tmp_path, local_files_only=True))
    assert folder == RepoCache(tmp_path, REPO).snapshot(commit)
    for path, data in files.items():
        assert (folder / path).read_bytes() == data
        assert (folder / path).is_symlink()  # pointing at blobs/<etag>, as huggingface_hub does
    weights = hf_hub_download(
        REPO, "weights/model.safetensors", cache_dir=tmp_path, local_files_only=True
    )
    assert Path(weights).read_bytes() == files["weights/model.safetensors"]
    assert (tmp_path / f"models--{REPO.replace('/', '--')}" / "refs" / "main").read_text() == commit
    assert cache_state(HubFiles(REPO), tmp_path).complete is True


def test_a_second_fetch_downloads_nothing(hub: FakeHub, tmp_path: Path) -> None:
    hub.add_files(REPO, repo_files())
    fetch(hub, tmp_path, HubFiles(REPO))
    gets = len(hub.body_gets())
    plan = plan_source(HubFiles(REPO), cache_dir=tmp_path, endpoint=hub.url)
    assert plan.missing_bytes == 0 and plan.missing == []
    report, _ = fetch(hub, tmp_path, HubFiles(REPO))
    assert report.downloaded_bytes == 0
    assert len(hub.body_gets()) == gets


def test_a_dropped_connection_resumes_with_a_range_request(tmp_path: Path) -> None:
    files = repo_files()
    with FakeHub(drop_after=MB + MB // 2) as hub:
        hub.add_files(REPO, files)
        report, _ = fetch(hub, tmp_path, HubFiles(REPO, files=("weights/model.safetensors",)))
        ranges = [r.range for r in hub.body_gets()]
    # the first MB arrived before the connection dropped: only the rest was asked for again
    assert ranges == [None, f"bytes={MB}-"]
    assert report.downloaded_bytes == len(files["weights/model.safetensors"])
    pointer = RepoCache(tmp_path, REPO).pointer(
        report.sources[0]["commit"], "weights/model.safetensors"
    )
    assert pointer.read_bytes() == files["weights/model.safetensors"]


def test_an_interrupted_fetch_resumes_where_it_stopped(tmp_path: Path) -> None:
    files = repo_files()
    weights = HubFiles(REPO, files=("weights/model.safetensors",))
    with FakeHub(hold_after=2 * MB) as hub:
        hub.add_files(REPO, files)
        plans = plan_all([weights], cache_dir=tmp_path, endpoint=hub.url)
        cancelled = threading.Event()
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                Fetcher(plans, endpoint=hub.url, cancelled=cancelled).run()
            except BaseException as exc:  # noqa: BLE001 - what stopped it is the point
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        assert hub.holding.wait(60)  # 2 MB sent; the hub holds the rest
        etag = plans[0].files[0].etag
        wait_until(lambda: RepoCache(tmp_path, REPO).partial_size(etag) == 2 * MB)
        cancelled.set()  # Ctrl-C
        hub.release.set()
        thread.join(60)
        assert outcome and isinstance(outcome[0], TransferCancelled)
        assert RepoCache(tmp_path, REPO).partial_size(etag) == 2 * MB  # kept for the next run

        again = plan_all([weights], cache_dir=tmp_path, endpoint=hub.url)
        assert again[0].present_bytes == 2 * MB
        report = Fetcher(again, endpoint=hub.url).run()
        assert hub.body_gets()[-1].range == f"bytes={2 * MB}-"
    size = len(files["weights/model.safetensors"])
    assert report.downloaded_bytes == size - 2 * MB
    pointer = RepoCache(tmp_path, REPO).pointer(again[0].commit, "weights/model.safetensors")
    assert pointer.read_bytes() == files["weights/model.safetensors"]
    assert RepoCache(tmp_path, REPO).partial_size(etag) == 0


def test_a_pinned_revision_is_what_is_fetched(hub: FakeHub, tmp_path: Path) -> None:
    old = hub.add_files(REPO, repo_files(seed=1), ref="v1")
    new = hub.add_files(REPO, repo_files(seed=2), ref="main")
    assert old != new

    report, _ = fetch(hub, tmp_path, HubFiles(REPO, revision=old))
    cache = RepoCache(tmp_path, REPO)
    assert report.sources[0]["commit"] == old
    assert json.loads(cache.pointer(old, "model_index.json").read_bytes())["seed"] == 1
    assert not cache.snapshot(new).exists()
    assert cache.read_ref("main") is None  # a commit needs no ref

    report, _ = fetch(hub, tmp_path, HubFiles(REPO, revision="v1"))
    assert cache.read_ref("v1") == old
    report, _ = fetch(hub, tmp_path, HubFiles(REPO))
    assert cache.read_ref("main") == new
    assert json.loads(cache.pointer(new, "model_index.json").read_bytes())["seed"] == 2


def test_not_enough_disk_is_refused_before_a_byte_is_written(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_files(REPO, repo_files())
    plans = plan_all([HubFiles(REPO)], cache_dir=tmp_path, endpoint=hub.url)
    monkeypatch.setattr("editserve.hub.fetch.free_bytes", lambda _path: 2 * MB)
    with pytest.raises(NotEnoughDisk) as refused:
        check_disk(plans, tmp_path)
    assert "needs 3.2 MB more" in str(refused.value) and "2.1 MB free" in str(refused.value)
    assert "HF_HUB_CACHE" in str(refused.value)
    monkeypatch.setattr("editserve.hub.fetch.free_bytes", lambda _path: 100 * MB)
    with pytest.raises(NotEnoughDisk, match="must stay free"):
        check_disk(plans, tmp_path, keep_free=99 * MB)
    check_disk(plans, tmp_path, keep_free=MB)  # fits
    assert hub.body_gets() == []


def test_corrupted_bytes_never_become_the_file(hub: FakeHub, tmp_path: Path) -> None:
    hub.add_files(REPO, repo_files())
    hub.corrupt.add("weights/model.safetensors")
    with pytest.raises(HubError, match="arrived corrupted"):
        fetch(hub, tmp_path, HubFiles(REPO, files=("weights/model.safetensors",)))
    blobs = RepoCache(tmp_path, REPO).root / "blobs"
    assert not any(blobs.iterdir())  # neither the blob nor a partial file


def test_errors_say_what_to_change(hub: FakeHub, tmp_path: Path) -> None:
    hub.add_files(REPO, repo_files())
    with pytest.raises(HubError, match="has no file nope.safetensors"):
        plan_source(
            HubFiles(REPO, files=("nope.safetensors",)), cache_dir=tmp_path, endpoint=hub.url
        )
    with pytest.raises(HubError, match="test-org/absent was not found"):
        plan_source(HubFiles("test-org/absent"), cache_dir=tmp_path, endpoint=hub.url)
    with pytest.raises(HubError, match="revision 'v9' of test-org/tiny-model does not exist"):
        plan_source(HubFiles(REPO, revision="v9"), cache_dir=tmp_path, endpoint=hub.url)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(HubUnreachable, match="cannot reach"):
        plan_source(HubFiles(REPO), cache_dir=tmp_path, endpoint=closed)


def test_a_file_another_process_is_fetching_is_waited_for(hub: FakeHub, tmp_path: Path) -> None:
    hub.add_files(REPO, repo_files())
    source = HubFiles(REPO, files=("weights/model.safetensors",))
    plans = plan_all([source], cache_dir=tmp_path, endpoint=hub.url)
    lock = FileLock(str(plans[0].cache.lock(plans[0].files[0].etag)))
    lock.acquire()
    waiting = threading.Event()

    def progress(p: Progress) -> None:
        if p.waiting_for:
            waiting.set()

    fetcher = Fetcher(plans, endpoint=hub.url, on_progress=progress)
    thread = threading.Thread(target=fetcher.run)
    thread.start()
    assert waiting.wait(60)
    assert hub.body_gets() == []  # it waits instead of fetching the same bytes twice
    lock.release()
    thread.join(60)
    assert fetcher.progress.files_done == 1 and fetcher.progress.waiting_for is None


def test_the_cache_alone_says_whether_a_snapshot_is_complete(hub: FakeHub, tmp_path: Path) -> None:
    commit = hub.add_files(REPO, repo_files())
    assert cache_state(HubFiles(REPO), tmp_path).commit is None
    fetch(hub, tmp_path, HubFiles(REPO))
    state = cache_state(HubFiles(REPO), tmp_path)
    assert (state.commit, state.complete, state.missing) == (commit, True, ())
    RepoCache(tmp_path, REPO).pointer(commit, "weights/config.json").unlink()
    state = cache_state(HubFiles(REPO), tmp_path)
    assert (state.complete, state.missing) == (False, ("weights/config.json",))


def test_the_loopback_hub_serves_huggingface_hub_itself(hub: FakeHub, tmp_path: Path) -> None:
    """The test hub answers huggingface_hub's own download path (repo info, tree, HEAD with
    X-Repo-Commit / X-Linked-Etag, the CDN redirect); what it fetched counts as cached."""
    from huggingface_hub import snapshot_download

    files = repo_files()
    commit = hub.add_files(REPO, files)
    folder = Path(snapshot_download(REPO, cache_dir=tmp_path, endpoint=hub.url))
    assert folder.name == commit
    assert {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    } == files
    plan = plan_source(HubFiles(REPO), cache_dir=tmp_path, endpoint=hub.url)
    assert plan.missing_bytes == 0
