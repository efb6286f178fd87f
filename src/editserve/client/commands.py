"""The client-side commands of the ``editserve`` CLI: edit, queue, models.

They talk to a server through :class:`editserve.client.Client` (``--url`` /
``$EDITSERVE_URL``, ``--api-key`` / ``$EDITSERVE_API_KEY`` / ``$OXEN_API_KEY``).

Exit codes::

    0    success
    2    usage error (bad option or argument)
    3    the server refused or failed the request (API error), or a wait timed out
    4    the generation failed or was cancelled
    5    the server could not be reached
    130  interrupted with Ctrl-C (the generation is cancelled on the server first)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from editserve.client._base import DEFAULT_MODEL, QUEUED_EVENT
from editserve.client._client import Client
from editserve.client._exceptions import (
    APIError,
    ClientError,
    ConnectionError,
    GenerationError,
    GenerationTimeout,
)
from editserve.client._inputs import classify, is_url
from editserve.client._types import Event, EventType, Generation, Model

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_API_ERROR = 3
EXIT_GENERATION_FAILED = 4
EXIT_CONNECTION_ERROR = 5
EXIT_INTERRUPTED = 130

ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "auto")
FORMATS = ("png", "jpg", "webp")

F = TypeVar("F", bound=Callable[..., Any])

# Tests replace this to run the commands against an in-process app.
client_factory: Callable[..., Client] = Client


def register(main: click.Group) -> None:
    """Add ``edit``, ``queue`` and ``models`` to the ``editserve`` command group."""
    main.add_command(edit)
    main.add_command(queue)
    main.add_command(models)


# --- shared options and error handling --------------------------------------------------------


def connection_options(func: F) -> F:
    """--url, --api-key, --json: the options every client command takes."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout."
    )(func)
    func = click.option(
        "--api-key",
        metavar="KEY",
        help="API key (default: $EDITSERVE_API_KEY, then $OXEN_API_KEY).",
    )(func)
    func = click.option(
        "--url",
        metavar="URL",
        help="Server root (default: $EDITSERVE_URL, then http://127.0.0.1:8000).",
    )(func)
    return func


def _make_client(url: str | None, api_key: str | None, **kwargs: Any) -> Client:
    return client_factory(url, api_key, **kwargs)


def _err(message: str) -> None:
    click.echo(message, err=True)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _error_json(exc: ClientError) -> dict[str, Any]:
    if isinstance(exc, APIError):
        error = {"type": exc.type, "title": exc.title, "detail": exc.detail, "status": exc.status}
        body: dict[str, Any] = {"error": error, "status": "error"}
        if exc.generation_id:
            body["generation_id"] = exc.generation_id
        if isinstance(exc, GenerationError) and exc.generation is not None:
            body["generation"] = exc.generation.raw
        return body
    return {"error": {"type": "connection_error", "detail": str(exc)}, "status": "error"}


def exit_code_for(exc: ClientError) -> int:
    """The CLI's exit code for a client error."""
    if isinstance(exc, GenerationError):
        return EXIT_GENERATION_FAILED
    if isinstance(exc, ConnectionError):
        return EXIT_CONNECTION_ERROR
    return EXIT_API_ERROR


def _describe(exc: ClientError) -> str:
    if isinstance(exc, ConnectionError):
        return f"error: cannot reach the server: {exc}"
    if isinstance(exc, GenerationTimeout):
        return f"error: {exc.detail} (it keeps running: editserve queue get {exc.generation_id})"
    if isinstance(exc, GenerationError):
        what = "was cancelled" if exc.type == "cancelled" else "failed"
        return f"error: generation {exc.generation_id or '?'} {what}: {exc.detail}"
    if isinstance(exc, APIError):
        title = f" ({exc.title})" if exc.title else ""
        return f"error: {exc.status or ''} {exc.type}{title}: {exc.detail}".replace("  ", " ")
    return f"error: {exc}"


@contextmanager
def _handle_errors(as_json: bool) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        _err(_describe(exc))
        if as_json:
            _print_json(_error_json(exc))
        sys.exit(exit_code_for(exc))


# --- edit -------------------------------------------------------------------------------------


@click.command()
@click.argument("images", nargs=-1, required=True, metavar="IMAGE [IMAGE...]")
@click.option("-p", "--prompt", required=True, help="What to change, e.g. 'Add a red hat'.")
@click.option(
    "--aspect-ratio",
    type=click.Choice(ASPECT_RATIOS),
    help="Output aspect ratio (server default 1:1; auto follows the last image).",
)
@click.option("--negative-prompt", help="What to avoid (server default ' ').")
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), help="Output format (default png)."
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="Random seed (default: random).")
@click.option("--steps", type=click.IntRange(1, 100), help="Denoising steps (default 40).")
@click.option("--cfg", type=click.FloatRange(1.0, 20.0), help="true_cfg_scale (default 4.0).")
@click.option("--preview", is_flag=True, default=None, help="Fast draft at a quarter of the area.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="Model id.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=True),
    help="Where to save the image: a file, or a folder (default: <first image>-edited.<fmt>).",
)
@click.option("--no-wait", is_flag=True, help="Only enqueue; print the generation id and exit.")
@click.option("--timeout", type=float, help="Give up waiting after this many seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@connection_options
def edit(
    images: tuple[str, ...],
    prompt: str,
    aspect_ratio: str | None,
    negative_prompt: str | None,
    output_format: str | None,
    seed: int | None,
    steps: int | None,
    cfg: float | None,
    preview: bool | None,
    model: str,
    output: str | None,
    no_wait: bool,
    timeout: float | None,
    quiet: bool,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Edit IMAGE(s) (local files or URLs, 1-3) with a text instruction.

    Shows live progress on stderr; Ctrl-C cancels the generation on the server.

    \b
    Example:
      editserve edit cat.png -p "Give the cat a red hat" -o hat.png
    """
    if not 1 <= len(images) <= 3:
        raise click.UsageError("give 1 to 3 input images")
    for index, image in enumerate(images):
        try:
            classify(image, index)  # a missing file or a non-image is a usage error
        except (OSError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="IMAGE") from None
    try:
        _edit(
            images,
            prompt=prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=steps,
            true_cfg_scale=cfg,
            preview=preview,
            output=output,
            no_wait=no_wait,
            timeout=timeout,
            quiet=quiet,
            url=url,
            api_key=api_key,
            as_json=as_json,
        )
    except KeyboardInterrupt:
        _err("\nInterrupted.")
        sys.exit(EXIT_INTERRUPTED)


def _edit(
    images: tuple[str, ...],
    *,
    prompt: str,
    model: str,
    aspect_ratio: str | None,
    negative_prompt: str | None,
    output_format: str | None,
    seed: int | None,
    num_inference_steps: int | None,
    true_cfg_scale: float | None,
    preview: bool | None,
    output: str | None,
    no_wait: bool,
    timeout: float | None,
    quiet: bool,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    with _handle_errors(as_json), _make_client(url, api_key) as client:
        params: dict[str, Any] = {"preview": True} if preview else {}
        [gen] = client.queue.submit(
            prompt=prompt,
            input_image=list(images),
            model=model,
            aspect_ratio=aspect_ratio,
            negative_prompt=negative_prompt,
            output_format=output_format,
            seed=seed,
            num_inference_steps=num_inference_steps,
            true_cfg_scale=true_cfg_scale,
            **params,
        )
        if no_wait:
            if as_json:
                _print_json({"generation_id": gen.generation_id, "status": gen.status})
            else:
                click.echo(gen.generation_id)
            return
        display = ProgressDisplay(gen.generation_id, enabled=not quiet)
        started = time.monotonic()
        try:
            with display:
                final = client.queue.wait(gen, timeout=timeout, on_event=display.on_event)
        except KeyboardInterrupt:
            _cancel_after_interrupt(client, gen.generation_id, as_json)
            sys.exit(EXIT_INTERRUPTED)
        path = final.save(_output_path(output, images, final))
        _report_saved(final, path, time.monotonic() - started, as_json)


def _cancel_after_interrupt(client: Client, generation_id: str, as_json: bool) -> None:
    _err(f"\nInterrupted: cancelling generation {generation_id} ...")
    try:
        final = client.queue.cancel(generation_id, wait=True, timeout=30)
    except KeyboardInterrupt:
        _err("Not waiting for the cancellation to finish.")
        return
    except ClientError as exc:
        _err(f"could not cancel {generation_id}: {exc}")
        return
    _err(f"Generation {generation_id} is {final.status}.")
    if as_json:
        _print_json(final.raw)


def _output_path(output: str | None, images: tuple[str, ...], gen: Generation) -> Path:
    """``-o`` as given; or a fresh ``<first image>-edited.<fmt>`` in ``-o``'s folder (a path
    that is a folder or ends with a slash) or in the current folder."""
    ext = gen.params.get("output_format") or (gen.image.format if gen.image else None) or "png"
    is_folder = output is not None and (output.endswith(("/", os.sep)) or Path(output).is_dir())
    if output is not None and not is_folder:
        return Path(output)
    first = images[0]
    stem = Path(first.split("?", 1)[0]).stem if not first.startswith("data:") else ""
    if is_url(first) and not stem:
        stem = "image"
    name = f"{stem or 'image'}-edited"
    folder = Path(output) if output is not None else Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{ext}"
    counter = 2
    while path.exists():
        path = folder / f"{name}-{counter}.{ext}"
        counter += 1
    return path


def _report_saved(gen: Generation, path: Path, seconds: float, as_json: bool) -> None:
    if as_json:
        _print_json({**gen.raw, "output_path": str(path)})
        return
    size = f"{gen.width}x{gen.height}" if gen.width and gen.height else ""
    details = ", ".join(
        part for part in (size, f"seed {gen.seed}" if gen.seed is not None else "") if part
    )
    _err(f"Saved {path} ({details}; {seconds:.1f} s) - generation {gen.generation_id}")
    click.echo(str(path))


class ProgressDisplay:
    """Live progress on stderr: a rich progress bar on a terminal, plain lines otherwise
    (``queued #2 (eta 30 s)``, ``denoising 12/40 (eta 9 s)``, ...)."""

    def __init__(self, generation_id: str, *, enabled: bool = True) -> None:
        self.generation_id = generation_id
        self.enabled = enabled
        self.interactive = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        self._last_line = ""
        self._first_step: tuple[float, int] | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.interactive:
            try:
                self._start_rich()
            except ImportError:  # rich is optional: fall back to plain lines
                self.interactive = False
        if self.enabled and not self.interactive:
            _err(f"generation {self.generation_id} submitted")
        return self

    def _start_rich(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._progress.start()
        self._task = self._progress.add_task("submitted", total=None)

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def on_event(self, event: Event) -> None:
        """Update the display from one event of the generation."""
        if not self.enabled:
            return
        if event.type == QUEUED_EVENT:
            position = event.data.get("queue_position")
            eta = event.data.get("eta_seconds")
            text = "queued" + (f" #{position + 1}" if isinstance(position, int) else "")
            self._update(text + (f" (eta {eta:.0f} s)" if eta else ""))
        elif event.type == EventType.STARTED:
            self._update(event.stage or "starting")
        elif event.type == EventType.PROGRESS:
            self._update(event.stage or "running", event.step, event.total)
        elif event.type == EventType.COMPLETED:
            done = event.status in ("succeeded", "completed")
            self._update(event.status or "done", finished=done)
        elif event.type == EventType.CANCELLED:
            self._update("cancelled")

    def _update(
        self,
        stage: str,
        step: int | None = None,
        total: int | None = None,
        *,
        finished: bool = False,
    ) -> None:
        if self._progress is not None:
            fields: dict[str, Any] = {"description": stage}
            if total:
                fields.update(total=total, completed=step or 0)
            if finished:
                task = self._progress.tasks[0]
                fields.update(total=task.total or 1, completed=task.total or 1)
            self._progress.update(self._task, **fields)
            return
        text = stage
        if total:
            text += f" {step}/{total}"
            eta = self._eta(step or 0, total)
            if eta is not None and eta >= 1:
                text += f" (eta {eta:.0f} s)"
        if text != self._last_line:
            self._last_line = text
            _err(f"  {text}")

    def _eta(self, step: int, total: int) -> float | None:
        now = time.monotonic()
        if self._first_step is None or step < self._first_step[1]:
            self._first_step = (now, step)
            return None
        start, first = self._first_step
        if step <= first:
            return None
        return (now - start) / (step - first) * (total - step)


# --- queue ------------------------------------------------------------------------------------


@click.group()
def queue() -> None:
    """List, inspect and cancel queued generations."""


@queue.command("list")
@click.option(
    "--status",
    help="queued|processing|succeeded|failed|cancelled (comma list; default: active ones).",
)
@click.option("--model", help="Only this model's generations.")
@connection_options
def queue_list(
    status: str | None, model: str | None, url: str | None, api_key: str | None, as_json: bool
) -> None:
    """List this key's queued and running generations (or those with --status)."""
    with _handle_errors(as_json), _make_client(url, api_key) as client:
        gens = client.queue.list(status=status, model=model)
        if as_json:
            _print_json({"count": len(gens), "generations": [g.raw for g in gens]})
            return
        if not gens:
            _err(
                "No generations" + (f" with status {status}." if status else " queued or running.")
            )
            return
        _print_table(
            ["ID", "STATUS", "PROGRESS", "MODEL", "PROMPT"],
            [
                [
                    g.generation_id,
                    g.status,
                    _progress_text(g),
                    g.model_name or "",
                    _short(g.prompt or "", 40),
                ]
                for g in gens
            ],
        )


@queue.command("get")
@click.argument("generation_id")
@connection_options
def queue_get(generation_id: str, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Show one generation."""
    with _handle_errors(as_json), _make_client(url, api_key) as client:
        gen = client.queue.get(generation_id)
        if as_json:
            _print_json(gen.raw)
            return
        rows = [
            ("generation_id", gen.generation_id),
            ("status", gen.status),
            ("model", gen.model_name),
            ("prompt", gen.prompt),
            ("progress", _progress_text(gen) or None),
            ("stage", gen.stage),
            ("queue_position", gen.queue_position),
            ("eta_seconds", gen.eta_seconds),
            ("seed", gen.seed),
            ("size", f"{gen.width}x{gen.height}" if gen.width else None),
            ("enqueued_at", _when(gen.enqueued_at)),
            ("started_at", _when(gen.started_at)),
            ("completed_at", _when(gen.completed_at)),
            ("result_url", gen.result_url),
            ("error_message", gen.error_message),
        ]
        for name, value in rows:
            if value not in (None, ""):
                click.echo(f"{name:<15} {value}")


@queue.command("cancel")
@click.argument("generation_ids", nargs=-1, required=True, metavar="GENERATION_ID...")
@click.option("--wait", is_flag=True, help="Wait until running generations have stopped.")
@connection_options
def queue_cancel(
    generation_ids: tuple[str, ...],
    wait: bool,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Cancel generations (queued ones at once, running ones at their next step)."""
    with _handle_errors(as_json), _make_client(url, api_key) as client:
        results = [client.queue.cancel(gen_id, wait=wait) for gen_id in generation_ids]
        if as_json:
            _print_json({"generations": [g.raw for g in results]})
            return
        for gen in results:
            note = " (stopping at the next step)" if gen.status == "processing" else ""
            click.echo(f"{gen.generation_id} {gen.status}{note}")


# --- models -----------------------------------------------------------------------------------


@click.command()
@click.argument("model_id", required=False)
@connection_options
def models(model_id: str | None, url: str | None, api_key: str | None, as_json: bool) -> None:
    """List the served models, or show one model (MODEL_ID) and its parameters."""
    with _handle_errors(as_json), _make_client(url, api_key) as client:
        if model_id is None:
            found = client.models.list()
            if as_json:
                _print_json({"object": "list", "data": [m.raw for m in found]})
                return
            _print_table(
                ["ID", "NAME", "WEIGHTS", "READY"],
                [[m.id, m.display_name or "", _weights(m), _readiness(m)] for m in found],
            )
            return
        model = client.models.get(model_id)
        if as_json:
            _print_json(model.raw)
            return
        _show_model(model)


def _show_model(model: Model) -> None:
    click.echo(f"{model.id}  {model.display_name or ''}".rstrip())
    if model.summary:
        click.echo(model.summary)
    for name, value in (
        ("aliases", ", ".join(model.aliases)),
        ("source", model.source_model),
        ("endpoint", model.endpoint),
        ("weights", _weights(model)),
        ("ready", _readiness(model)),
    ):
        if value:
            click.echo(f"  {name:<9} {value}")
    click.echo("parameters:")
    required = set(model.required)
    rows = []
    for name, prop in model.parameters.items():
        kind = prop.get("type") or "/".join(
            str(option.get("type")) for option in prop.get("anyOf", []) if option.get("type")
        )
        rule = _rule(prop)
        if name in required:
            default = "required"
        else:
            default = json.dumps(prop["default"]) if "default" in prop else ""
        rows.append([name, kind, default, rule])
    _print_table(["NAME", "TYPE", "DEFAULT", "VALUES"], rows, indent="  ")


def _rule(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(str(v) for v in prop["enum"])
    low = prop.get("minimum", prop.get("minItems"))
    high: Any = prop.get("maximum", prop.get("maxItems"))
    if "exclusiveMaximum" in prop:
        high = f"<{prop['exclusiveMaximum']}"
    if low is not None or high is not None:
        return f"{'' if low is None else low}..{'' if high is None else high}"
    return ""


def _weights(model: Model) -> str:
    weights = model.raw.get("weights")
    if isinstance(weights, dict):
        return str(weights.get("source") or weights.get("id") or weights.get("kind") or "")
    return str(weights or "")


def _readiness(model: Model) -> str:
    value = model.raw.get("readiness", model.raw.get("ready"))
    if isinstance(value, dict):
        value = value.get("state") or value.get("status") or value.get("ready")
    return "" if value is None else str(value)


# --- formatting helpers -----------------------------------------------------------------------


def _progress_text(gen: Generation) -> str:
    if gen.progress and gen.progress.total:
        return f"{gen.progress.step}/{gen.progress.total}"
    if gen.status == "queued" and gen.queue_position is not None:
        return f"#{gen.queue_position + 1} in queue"
    return ""


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(value: int | None) -> str | None:
    if value is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def _print_table(headers: list[str], rows: list[list[str]], indent: str = "") -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(cell))) for w, cell in zip(widths, row, strict=True)]

    def line(cells: list[str]) -> str:
        return indent + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))

    click.echo(line(headers).rstrip())
    for row in rows:
        click.echo(line(row).rstrip())


__all__ = ["register", "exit_code_for", "ProgressDisplay"]
