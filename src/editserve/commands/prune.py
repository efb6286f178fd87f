"""`editserve prune`: delete what is older than the retention, now, from this machine.

Exit status: 0 when the prune ran (or, dry, counted), and also when another node holds
the prune lease (nothing done; the output says who holds it, JSON ``"ran": false``);
2 for a usage error (no --older-than and no EDITSERVE_RETENTION_DAYS).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from editserve.commands.common import settings_or_exit, store_options, store_or_exit

KIND_NAMES = {
    "generations": "generations",
    "outputs": "output images",
    "inputs": "input images",
    "uploads": "uploads",
    "events": "events",
    "webhook_deliveries": "webhook deliveries",
}


@click.command()
@store_options
@click.option(
    "--older-than",
    type=click.FloatRange(min=0, min_open=True),
    help="Days (fractions allowed); default EDITSERVE_RETENTION_DAYS.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def prune(
    data_dir: Path | None,
    database_url: str | None,
    older_than: float | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete generations that ended, uploads made and events written more than
    --older-than days ago, with their images, in small batches; never anything a queued or
    running generation uses. One node prunes at a time: if another is pruning, this says
    so and exits 0."""
    from editserve.blobs import open_storage
    from editserve.services.retention.prune import Pruner

    settings = settings_or_exit(data_dir=data_dir, database_url=database_url)
    days = older_than if older_than is not None else settings.retention_days
    if days is None:
        what = "count" if dry_run else "delete"
        raise click.UsageError(
            f"say how old is old enough to {what}: --older-than DAYS (e.g. --older-than 30), "
            "or set EDITSERVE_RETENTION_DAYS (the server's retention), which prune uses "
            "when --older-than is not given"
        )
    store = store_or_exit(settings)  # an existing database only: never a new empty one
    try:
        report = Pruner(store, open_storage(settings)).run(days, dry_run=dry_run)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        sys.exit(0)
    if not report.ran:
        click.echo(f"prune: another node is pruning ({report.holder}); nothing done")
        sys.exit(0)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"prune: older than {days:g} days; {verb}:")
    for kind, name in KIND_NAMES.items():
        click.echo(f"  {name:<20} {report.counts.get(kind, 0)}")
    if report.stopped:
        click.echo("prune: stopped before the end; run it again")


__all__ = ["prune"]
