"""``editserve queue``: list, inspect and cancel queued generations."""

from __future__ import annotations

import click

from editserve.client.commands._common import (
    connection_options,
    err,
    handle_errors,
    make_client,
    print_json,
    print_table,
    progress_text,
    short,
    when,
)


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
    with handle_errors(as_json), make_client(url, api_key) as client:
        gens = client.queue.list(status=status, model=model)
        if as_json:
            print_json({"count": len(gens), "generations": [g.raw for g in gens]})
            return
        if not gens:
            err("No generations" + (f" with status {status}." if status else " queued or running."))
            return
        print_table(
            ["ID", "STATUS", "PROGRESS", "MODEL", "PROMPT"],
            [
                [
                    g.generation_id,
                    g.status,
                    progress_text(g),
                    g.model_name or "",
                    short(g.prompt or "", 40),
                ]
                for g in gens
            ],
        )


@queue.command("get")
@click.argument("generation_id")
@connection_options
def queue_get(generation_id: str, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Show one generation."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        gen = client.queue.get(generation_id)
        if as_json:
            print_json(gen.raw)
            return
        rows = [
            ("generation_id", gen.generation_id),
            ("status", gen.status),
            ("model", gen.model_name),
            ("prompt", gen.prompt),
            ("progress", progress_text(gen) or None),
            ("stage", gen.stage),
            ("queue_position", gen.queue_position),
            ("eta_seconds", gen.eta_seconds),
            ("seed", gen.seed),
            ("size", f"{gen.width}x{gen.height}" if gen.width else None),
            ("enqueued_at", when(gen.enqueued_at)),
            ("started_at", when(gen.started_at)),
            ("completed_at", when(gen.completed_at)),
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
    with handle_errors(as_json), make_client(url, api_key) as client:
        results = [client.queue.cancel(gen_id, wait=wait) for gen_id in generation_ids]
        if as_json:
            print_json({"generations": [g.raw for g in results]})
            return
        for gen in results:
            note = " (stopping at the next step)" if gen.status == "processing" else ""
            click.echo(f"{gen.generation_id} {gen.status}{note}")
