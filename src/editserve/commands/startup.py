"""What serve, worker and smoke run before they start: the option checks that need no
torch, logging, the node's start-up check (database, storage, agreed settings) and the
cluster's first API key (also printed by `editserve migrate`). Nothing heavy is imported
until a function runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from editserve.core.settings import Settings
    from editserve.services.cluster.node import Node, Role
    from editserve.services.keys import NewKey
    from editserve.store.cluster import ClusterFact


def setup_logging(level: str, log_format: str = "text") -> None:
    from editserve.core.logs import setup_logging as setup

    setup(level, log_format)


def refuse_bad_model_options(settings: Settings, devices: list[str]) -> None:
    """Refuse option combinations that cannot work, before any process starts (no torch)."""
    from editserve.core.devices import count_gpus, device_kind, missing_model_libraries
    from editserve.models.registry import served_registry

    if devices and (missing := missing_model_libraries()):
        raise click.UsageError(missing)
    gpus = count_gpus() if any(d == "auto" for d in devices) else None
    kinds = {device_kind(d, gpus_visible=gpus) for d in devices} or {None}
    try:
        for spec in served_registry(settings).all():
            for kind in sorted(kinds, key=str):
                spec.check_settings(settings.for_model(spec.id), kind)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def start_node_or_exit(settings: Settings, role: Role) -> Node:
    """The start-up check (cluster.node.start_node); a refusal exits 1 with its message."""
    from editserve.services.cluster.node import NodeRefused, start_node

    try:
        return start_node(settings, role)
    except NodeRefused as exc:
        raise click.ClickException(str(exc)) from None


def first_key_banner(key: NewKey, path: Path) -> str:
    """What a first start prints: the key, and its webhook signing secret (``path`` is the
    api_key file; the secret's file, webhook_secret, is beside it)."""
    from editserve.services.keys import FIRST_WEBHOOK_SECRET_FILE

    banner = "=" * 72
    return (
        f"\n{banner}\nCreated the first API key (shown once; also saved to "
        f"{path}):\n\n    {key.secret}\n\n"
        f"Use it as:  -H 'Authorization: Bearer {key.secret}'\n"
        f"Its webhook signing secret: {key.webhook_secret}\n"
        f"(saved to {path.with_name(FIRST_WEBHOOK_SECRET_FILE)}; print it again with "
        f"`editserve keys webhook {key.row.id} --show-secret`)\n{banner}\n"
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
    data_dir/api_key, its webhook signing secret to data_dir/webhook_secret); a node that
    did not make it says where it is."""
    from editserve.services.keys import FIRST_KEY_FILE, ensure_first_key
    from editserve.store.cluster import FIRST_KEY

    data_dir = node.settings.data_dir
    first = ensure_first_key(node.store, data_dir, node.name)
    if first is not None:
        click.echo(first_key_banner(first, data_dir / FIRST_KEY_FILE), err=True)
    elif not (data_dir / FIRST_KEY_FILE).exists():
        fact = node.store.cluster_facts().get(FIRST_KEY)
        click.echo(where_the_first_key_is(fact), err=True)


__all__ = [
    "announce_first_key",
    "first_key_banner",
    "refuse_bad_model_options",
    "setup_logging",
    "start_node_or_exit",
    "where_the_first_key_is",
]
