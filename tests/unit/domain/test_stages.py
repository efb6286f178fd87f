"""The start-up stages: their words, their share done, and the throttled reporter."""

from __future__ import annotations

from typing import Any

from editserve.domain.stages import ORDER, Stage, StageReporter, describe, fmt_bytes, fraction, rank


def test_each_stage_reads_as_one_line_with_its_figures() -> None:
    download = {"bytes_done": 1_200_000_000, "bytes_total": 57_700_000_000}
    download |= {"files_done": 3, "files_total": 17, "bytes_per_second": 95_000_000}
    assert describe("downloading", download) == (
        "downloading 1.2 GB of 57.7 GB (2%, 3 of 17 files, 95.0 MB/s)"
    )
    assert describe("loading", {"component": "text_encoder", "index": 2, "count": 6}) == (
        "loading component 2 of 6 (text_encoder)"
    )
    assert describe("loading", {"what": "Qwen/x"}) == "loading Qwen/x"
    step = {"step": "fusing the Lightning LoRA", "index": 1, "count": 3}
    assert describe("applying_options", step) == (
        "applying options: fusing the Lightning LoRA (1 of 3)"
    )
    warm = {"run": 1, "runs": 2, "width": 384, "height": 384, "compiles": True}
    assert describe("warming_up", warm) == "warming up (run 1 of 2, 384x384, compiling)"
    assert describe("ready", {"seconds": 42.4}) == "ready in 42s"
    assert describe("failed", {"reason": "CUDA out of memory"}) == "failed: CUDA out of memory"
    assert describe("starting") == "starting"
    assert describe(None) == "unknown"


def test_how_far_along() -> None:
    assert [rank(stage) for stage in ORDER] == list(range(1, len(ORDER) + 1))
    assert rank(Stage.FAILED) == rank(None) == rank("nonsense") == 0
    assert fraction({"bytes_done": 25, "bytes_total": 100}) == 0.25
    assert fraction({"index": 3, "count": 6}) == 0.5
    assert fraction({"run": 2, "runs": 2}) == 1.0
    assert fraction({"reason": "x"}) is None and fraction(None) is None
    assert fmt_bytes(999) == "999 B" and fmt_bytes(57_699_249_798) == "57.7 GB"


def test_the_reporter_writes_each_new_stage_and_a_repeat_at_most_once_a_second() -> None:
    now = [100.0]
    written: list[tuple[str, dict[str, Any]]] = []
    report = StageReporter(lambda s, d: written.append((s, d)), clock=lambda: now[0])
    report("downloading", {"bytes_done": 1})
    report("downloading", {"bytes_done": 2})  # 0 s later: held back
    now[0] += 1.5
    report("downloading", {"bytes_done": 3})
    report("loading", {"index": 1, "count": 6})  # a new stage: at once
    assert written == [
        ("downloading", {"bytes_done": 1}),
        ("downloading", {"bytes_done": 3}),
        ("loading", {"index": 1, "count": 6}),
    ]
    assert (report.stage, report.detail) == ("loading", {"index": 1, "count": 6})

    report("loading", {"index": 2, "count": 6})  # held back: nothing follows it
    report.flush()  # too early
    assert len(written) == 3
    now[0] += 1.0
    report.flush()
    report.flush()  # once
    assert written[3:] == [("loading", {"index": 2, "count": 6})]


def test_a_failing_write_does_not_stop_the_start_up() -> None:
    def broken(stage: str, detail: dict[str, Any]) -> None:
        raise RuntimeError("database is locked")

    StageReporter(broken)("loading", {})  # logged, not raised
