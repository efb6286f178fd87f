"""`editserve migrate`: apply pending migrations, record the cluster record and the settings
every node must agree on, make the first API key."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from editserve.commands.common import settings_or_exit, store_options
from editserve.commands.startup import first_key_banner

if TYPE_CHECKING:
    from editserve.services.cluster.migrate import MigrateReport


def _report_lines(report: MigrateReport) -> list[str]:
    from editserve.services.cluster.agreed import ACCEPT_HINT, when

    cluster = report.cluster
    lines = [f"database {report.database}"]
    if report.applied:
        applied = ", ".join(f"{version:03d}" for version in report.applied)
        lines.append(f"applied migrations {applied} (schema version {report.schema_version})")
    if report.cluster_created:
        lines.append(f"created cluster {cluster.value}")
    if report.recorded:
        values = ", ".join(f"{name}={value}" for name, value in report.recorded.items())
        lines.append(f"recorded the settings every node must agree on: {values}")
    for mismatch in report.differ:
        lines.append(f"{mismatch.line()} Kept the cluster's; {ACCEPT_HINT}.")
    for mismatch in report.accepted:
        lines.append(
            f"changed the cluster's {mismatch.env} from {mismatch.recorded.value} to "
            f"{mismatch.ours}"
        )
    fact = report.first_key_fact
    if report.first_key is None and fact is not None:
        lines.append(
            f"first API key: {fact.value}, made {when(fact.recorded_at)} by node "
            f"{fact.recorded_by} (its data dir's api_key file; more: `editserve keys create`)"
        )
    if report.up_to_date:
        lines.append(
            f"up to date: schema version {report.schema_version}, cluster {cluster.value} "
            f"(created {when(cluster.recorded_at)} by node {cluster.recorded_by})"
        )
    return lines


@click.command()
@store_options
@click.option(
    "--accept-settings",
    is_flag=True,
    help="Record this machine's values of the settings every node must agree on as the "
    "cluster's (after changing one on every node).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def migrate(accept_settings: bool, as_json: bool, **options: Any) -> None:
    """Apply pending migrations, record the cluster record, make the first API key.

    Idempotent, and safe when several nodes run it at once. Run it before starting (or
    rolling) the nodes of an upgraded cluster, with the settings the nodes use.
    """
    from editserve.services.cluster.migrate import run_migrate
    from editserve.services.cluster.node import NodeRefused

    settings = settings_or_exit(**options)
    try:
        report = run_migrate(settings, accept_settings=accept_settings)
    except NodeRefused as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    for line in _report_lines(report):
        click.echo(line)
    if report.first_key is not None:
        assert report.key_file is not None
        click.echo(first_key_banner(report.first_key, report.key_file))


__all__ = ["migrate"]
