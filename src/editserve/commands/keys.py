"""`editserve keys`: create, list and revoke API keys, and set a key's default webhook —
straight in the store (no server needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from editserve.commands.common import settings_or_exit, store_from, store_options

if TYPE_CHECKING:
    from editserve.store import KeyStore


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--name", default="default", show_default=True, help="A label for the key.")
@store_options
def keys_create(name: str, data_dir: Path | None, database_url: str | None) -> None:
    """Create a key and print its secret (shown only this once)."""
    from editserve.services.keys import create_key

    key = create_key(store_from(data_dir, database_url), name)
    click.echo(f"{key.row.id}\t{key.row.name}", err=True)
    click.echo(f"webhook signing secret: {key.webhook_secret}", err=True)
    click.echo(key.secret)


@keys.command("webhook")
@click.argument("key")
@click.option("--url", help="The key's default webhook (requests without one use it).")
@click.option("--clear", is_flag=True, help="Remove the key's default webhook.")
@click.option("--rotate-secret", is_flag=True, help="Make and print a new signing secret.")
@click.option(
    "--show-secret",
    is_flag=True,
    help="Print KEY's current signing secret (whsec_…), alone on stdout.",
)
@store_options
def keys_webhook(
    key: str,
    url: str | None,
    clear: bool,
    rotate_secret: bool,
    show_secret: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Set KEY's default webhook, or rotate or show its webhook signing secret."""
    from editserve.services.keys import find_key_id

    if not (url or clear or rotate_secret or show_secret):
        raise click.UsageError(
            "say what to change or show: --url URL, --clear, --rotate-secret or --show-secret"
        )
    store = store_from(data_dir, database_url)
    key_id = find_key_id(store, key)
    if key_id is None:
        raise click.ClickException(f"no active key matches {key!r}")
    if url or clear or rotate_secret:
        change_webhook(
            store, key_id, url, clear, rotate_secret, data_dir, database_url, show_secret
        )
    if show_secret:
        print_webhook_secret(store, key_id)


def change_webhook(
    store: KeyStore,
    key_id: str,
    url: str | None,
    clear: bool,
    rotate_secret: bool,
    data_dir: Path | None,
    database_url: str | None,
    quiet_stdout: bool,
) -> None:
    """Set or clear the default webhook and/or rotate the secret; say what changed (on
    stderr when the secret alone goes to stdout)."""
    from editserve.services.keys import set_default_webhook

    allow = settings_or_exit(data_dir=data_dir, database_url=database_url).fetch_allow_hosts
    try:
        message = set_default_webhook(
            store,
            key_id,
            None if clear else url,
            set_url=bool(url or clear),
            rotate=rotate_secret,
            allow_hosts=allow,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(message, err=quiet_stdout)


def print_webhook_secret(store: KeyStore, key_id: str) -> None:
    from editserve.services.keys import webhook_secret_of

    secret = webhook_secret_of(store, key_id)
    if secret is None:
        raise click.ClickException(
            f"{key_id} has no webhook signing secret yet (it gets one at its first delivery); "
            f"make one with `editserve keys webhook {key_id} --rotate-secret`"
        )
    click.echo(secret)


@keys.command("list")
@store_options
def keys_list(data_dir: Path | None, database_url: str | None) -> None:
    """List keys (ids, names, prefixes; never secrets)."""
    rows = store_from(data_dir, database_url).list_keys()
    click.echo(f"{'ID':<18} {'NAME':<16} {'PREFIX':<12} {'CREATED':<20} STATUS")
    for row in rows:
        created = dt.datetime.fromtimestamp(row.created_at).strftime("%Y-%m-%d %H:%M:%S")
        status = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id:<18} {row.name:<16} {row.prefix + '…':<12} {created:<20} {status}")


@keys.command("revoke")
@click.argument("key")
@store_options
def keys_revoke(key: str, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke KEY (its id, key_…, or the start of its secret)."""
    from editserve.services.keys import find_key_id

    store = store_from(data_dir, database_url)
    key_id = find_key_id(store, key)
    if key_id is None or not store.revoke_key(key_id):
        raise click.ClickException(f"no active key matches {key!r}")
    click.echo(f"revoked {key_id}")


__all__ = ["keys"]
