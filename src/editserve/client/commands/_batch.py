"""``editserve batch``: run a folder of images (or a manifest.jsonl of requests) as one
batch and collect its outputs, resumably; follow, cancel, download and list batches."""

from __future__ import annotations

import json
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import click

from editserve.client._base import DEFAULT_MODEL
from editserve.client._batch_types import Batch
from editserve.client.commands._batch_run import BatchRun, Options, Summary
from editserve.client.commands._batch_state import STATE_FILE, Plan, State
from editserve.client.commands._common import (
    EXIT_GENERATION_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    connection_options,
    err,
    handle_errors,
    make_client,
    print_json,
    print_table,
    when,
)

__all__ = ["batch"]


@click.group()
def batch() -> None:
    """Run many edits as one batch; follow, cancel and download batches."""


def _param(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for text in values:
        name, sep, raw = text.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", ctx, param)
        try:
            params[name] = json.loads(raw)  # numbers, true/false, lists...
        except json.JSONDecodeError:
            params[name] = raw  # ...else a string
    return params


@batch.command("run")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("-p", "--prompt", help="The prompt (a manifest's lines may carry their own).")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="Model id.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_param,
    help="A model parameter for every item (repeatable): num_inference_steps=8, seed=1, ...",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the outputs, manifest.jsonl and the run's state (re-run to resume).",
)
@click.option(
    "--priority",
    type=click.IntRange(-100, 0),
    help="-100 to 0 (server default -10, below interactive edits at 0).",
)
@click.option("--webhook", metavar="URL", help="A URL that gets batch.completed.")
@click.option(
    "--wait/--no-wait", default=True, help="Follow the batch and download (default) or exit."
)
@click.option("--zip", "save_zip", is_flag=True, help="Also save the server's zip of each batch.")
@click.option("--poll", type=click.FloatRange(0.05), default=2.0, show_default=True,
              help="Seconds between polls of the batch.")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@connection_options
def batch_run(
    source: Path,
    prompt: str | None,
    model: str,
    params: dict[str, Any],
    out: Path,
    priority: int | None,
    webhook: str | None,
    wait: bool,
    save_zip: bool,
    poll: float,
    quiet: bool,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Edit every image of SOURCE (a folder of png/jpg/webp, or a manifest.jsonl of
    request objects) as one batch; save the outputs in --out, named after their sources,
    with manifest.jsonl.

    Resumable: run the same command again after an interruption (Ctrl-C, a lost
    connection): items done are skipped (by content and parameters), batches still
    running are followed again, and only the rest is submitted.
    """
    if source.is_dir() and prompt is None:
        raise click.UsageError("-p/--prompt: a folder of images needs a prompt")
    if source.is_dir() and out.resolve() == source.resolve():
        raise click.UsageError("--out: give another folder than SOURCE (outputs would replace it)")
    template = {"model": model, **({"prompt": prompt} if prompt is not None else {}), **params}
    try:
        plan = Plan.from_source(source, template)
    except (ValueError, OSError) as exc:
        err(f"error: {exc}")
        sys.exit(EXIT_USAGE)
    state = State(out)
    options = Options(priority, webhook, poll, wait, save_zip, progress=not quiet)
    with handle_errors(as_json), make_client(url, api_key) as client:
        try:
            summary = BatchRun(client, plan, state, options).run()
        except KeyboardInterrupt:
            state.save()
            err(
                "\ninterrupted: submitted items keep running on the server and nothing is "
                "lost; run the same command again to resume (see: editserve batch status "
                f"{out})"
            )
            sys.exit(EXIT_INTERRUPTED)
    _report(summary, out, as_json)


def _report(summary: Summary, out: Path, as_json: bool) -> None:
    if as_json:
        print_json(summary.as_json(out))
    else:
        err(
            f"{summary.items} items: {summary.succeeded} done, {summary.failed} failed, "
            f"{summary.waiting} waiting (batches: {', '.join(summary.batches) or 'none'}); "
            f"manifest: {out / 'manifest.jsonl'}"
        )
        if summary.failed:
            err("re-run the same command to submit the failed items again")
        elif summary.waiting:
            err("re-run the same command to collect them")
    if summary.failed:
        sys.exit(EXIT_GENERATION_FAILED)


@batch.command("status")
@click.argument("target")
@connection_options
def batch_status(target: str, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Show a batch (by id), or the batches of a `batch run` output folder."""
    ids = [target]
    if Path(target).is_dir():
        state = State(Path(target))
        if not state.path.exists():
            raise click.UsageError(f"{target}: no {STATE_FILE} here (not a batch run's folder)")
        ids = list(dict.fromkeys(e["batch"] for e in state.items.values() if e.get("batch")))
        done = sum(1 for e in state.items.values() if e.get("outputs"))
        if not as_json:
            click.echo(f"{target}: {len(state.items)} items, {done} with outputs here")
    with handle_errors(as_json), make_client(url, api_key) as client:
        batches = [client.batches.get(batch_id) for batch_id in ids]
        if as_json:
            print_json({"batches": [b.raw for b in batches]})
            return
        _table(batches)


def _table(batches: list[Batch]) -> None:
    print_table(
        ["ID", "STATUS", "DONE", "FAILED", "RUNNING", "QUEUED", "PRIORITY", "CREATED"],
        [
            [
                b.id,
                b.status,
                f"{b.counts.succeeded}/{b.counts.total}",
                str(b.counts.failed + b.counts.cancelled),
                str(b.counts.processing),
                str(b.counts.queued),
                str(b.priority),
                when(b.created_at) or "",
            ]
            for b in batches
        ],
    )


@batch.command("cancel")
@click.argument("batch_id")
@connection_options
def batch_cancel(batch_id: str, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Cancel the items of a batch that have not started (those running finish)."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        found = client.batches.cancel(batch_id)
        if as_json:
            print_json(found.raw)
            return
        err(f"batch {found.id}: {found.counts.cancelled} items cancelled, "
            f"{found.counts.processing} still running")  # fmt: skip


@batch.command("download")
@click.argument("batch_id")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into.")  # fmt: skip
@click.option("--zip", "as_zip", is_flag=True, help="Save the zip as is (<id>.zip).")
@connection_options
def batch_download(
    batch_id: str, out: Path, as_zip: bool, url: str | None, api_key: str | None, as_json: bool
) -> None:
    """Download a batch's outputs (<index>-<custom_id>.<ext>) and manifest.jsonl, or its
    zip with --zip."""
    out.mkdir(parents=True, exist_ok=True)
    with handle_errors(as_json), make_client(url, api_key) as client:
        if as_zip:
            path = client.batches.download_zip(batch_id, out / f"{batch_id}.zip")
            names = [str(path)]
        else:
            with tempfile.TemporaryDirectory(dir=out) as scratch:
                path = client.batches.download_zip(batch_id, Path(scratch) / "batch.zip")
                with zipfile.ZipFile(path) as archive:
                    names = archive.namelist()
                    archive.extractall(out)
        if as_json:
            print_json({"batch_id": batch_id, "files": names})
            return
        err(f"batch {batch_id}: {len(names)} files in {out}")


@batch.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True,
              help="How many batches.")  # fmt: skip
@click.option("--before", metavar="ID", help="Older than this batch (the next page).")
@connection_options
def batch_list(
    limit: int, before: str | None, url: str | None, api_key: str | None, as_json: bool
) -> None:
    """List this key's batches, newest first."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        page = client.batches.list(limit=limit, before=before)
        if as_json:
            print_json(page.raw)
            return
        if not page.batches:
            err("No batches.")
            return
        _table(page.batches)
        if page.next_before:
            err(f"more: editserve batch list --before {page.next_before}")
