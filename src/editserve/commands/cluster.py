"""The cluster's command line: `editserve migrate`, and what `serve` and `worker` run at
their start (registered from editserve.commands.main; nothing heavy is imported until a
command runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from editserve.core.settings import Settings
    from editserve.services.cluster.migrate import MigrateReport
    from editserve.services.cluster.node import Node, Role
    from editserve.services.keys import NewKey
    from editserve.store.cluster import ClusterFact


def start_node_or_exit(settings: Settings, role: Role) -> Node:
    """The start-up check (cluster.node.start_node); a refusal exits 1 with its message."""
    from editserve.services.cluster.node import NodeRefused, start_node

    try:
        return start_node(settings, role)
    except NodeRefused as exc:
        raise click.ClickException(str(exc)) from None


def first_key_banner(key: NewKey, path: Path) -> str:
    banner = "=" * 72
    return (
        f"\n{banner}\nCreated the first API key (shown once; also saved to "
        f"{path}):\n\n    {key.secret}\n\n"
        f"Use it as:  -H 'Authorization: Bearer {key.secret}'\n"
        f"Its webhook signing secret (shown once): {key.webhook_secret}\n{banner}\n"
    )


def where_the_first_key_is(fact: ClusterFact | None) -> str:
    """For a node that did not make the first key: where it is, and how to make another."""
    from editserve.services.cluster.agreed import when

    more = "make one for this node with `editserve keys create`"
    if fact is None:
        return f"API keys: the database has keys already; {more}."
    return (
        f"API keys: the cluster's first key ({fact.value}) was made "
        f"{when(fact.recorded_at)} by node {fact.recorded_by} (its data dir's api_key "
        f"file); {more}."
    )


def announce_first_key(node: Node) -> None:
    """`serve`: make the cluster's first key if it has none (printed once, saved to
    data_dir/api_key); a node that did not make it says where it is."""
    from editserve.services.keys import FIRST_KEY_FILE, ensure_first_key
    from editserve.store.cluster import FIRST_KEY

    data_dir = node.settings.data_dir
    first = ensure_first_key(node.store, data_dir, node.name)
    if first is not None:
        click.echo(first_key_banner(first, data_dir / FIRST_KEY_FILE), err=True)
    elif not (data_dir / FIRST_KEY_FILE).exists():
        fact = node.store.cluster_facts().get(FIRST_KEY)
        click.echo(where_the_first_key_is(fact), err=True)


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
@click.option("--data-dir", type=click.Path(path_type=Path), help="EDITSERVE_DATA_DIR")
@click.option("--database-url", help="EDITSERVE_DATABASE_URL")
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
    from editserve.commands.common import settings_or_exit
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


__all__ = [
    "announce_first_key",
    "first_key_banner",
    "migrate",
    "start_node_or_exit",
]
