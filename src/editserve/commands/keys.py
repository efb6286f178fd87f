"""`editserve keys`: create, list, change and revoke API keys (scopes, weight, quotas), and
set a key's default webhook — straight in the store (no server needed). Creations, changes
and revocations are in the audit log with the actor ``cli:<operating-system user>``; the
values are checked as the admin API checks them (services/key_admin.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from editserve.commands.common import settings_or_exit, store_from, store_options

if TYPE_CHECKING:
    from editserve.store import KeyStore
    from editserve.store.rows import ApiKeyRow

CLEARS = ("none", "null", "default")  # --max-running none: back to the server's default


@click.group()
def keys() -> None:
    """Create, list, change and revoke API keys."""


def limit_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--scopes, --weight and the quotas: what `keys create` and `keys set` take."""
    options = [
        click.option("--scopes", help="Comma list of admin, submit, read (admin may do all)."),
        click.option(
            "--weight", type=float, help="Its share of the workers when keys wait together."
        ),
        click.option(
            "--max-running",
            metavar="N|none",
            help="Generations queued or running at once (none: the server's default).",
        ),
        click.option(
            "--gpu-seconds-per-day",
            metavar="S|none",
            help="Worker seconds in any 24 hours (none: the server's default).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@keys.command("create")
@click.argument("name_arg", metavar="[NAME]", required=False)
@click.option("--name", help="A label for the key (or give it as NAME; default: default).")
@limit_options
@store_options
def keys_create(
    name_arg: str | None,
    name: str | None,
    data_dir: Path | None,
    database_url: str | None,
    **limits: Any,
) -> None:
    """Create a key and print its secret (shown only this once); by default its scopes
    are submit,read, its weight 1 and its quotas the server's."""
    from editserve.services.keys import create_key

    if name_arg and name and name_arg != name:
        raise click.UsageError(f"two names given: {name_arg!r} and --name {name!r}")
    fields = checked_changes({"name": name_arg or name or "default", **limits})
    scopes = tuple(fields.pop("scopes", None) or ("submit", "read"))
    store = store_from(data_dir, database_url)
    key = create_key(store, fields.pop("name"), scopes, actor=cli_actor(), **fields)
    click.echo(f"{key.row.id}\t{key.row.name}", err=True)
    click.echo(described(key.row), err=True)
    click.echo(f"webhook signing secret: {key.webhook_secret}", err=True)
    click.echo(key.secret)


@keys.command("set")
@click.argument("key")
@limit_options
@store_options
def keys_set(key: str, data_dir: Path | None, database_url: str | None, **limits: Any) -> None:
    """Change KEY's scopes, weight or quotas (KEY: its id, key_…, or the start of its
    secret); what is not given stays."""
    from editserve.services.keys import find_key_id
    from editserve.store import LastAdmin

    if all(value is None for value in limits.values()):
        raise click.UsageError(
            "say what to change: --scopes, --weight, --max-running or --gpu-seconds-per-day"
        )
    changes = checked_changes(limits)
    store = store_from(data_dir, database_url)
    key_id = find_key_id(store, key)
    if key_id is None:
        raise click.ClickException(f"no active key matches {key!r}")
    try:
        row = store.update_key(key_id, changes, actor=cli_actor())
    except LastAdmin:
        raise click.ClickException(
            f"{key_id} is the last admin key; keep 'admin' in its --scopes"
        ) from None
    if row is None:
        raise click.ClickException(f"no active key matches {key!r}")
    click.echo(f"{row.id}\t{row.name}: {described(row)}")


def checked_changes(given: dict[str, Any]) -> dict[str, Any]:
    """The options given (None: not given; ``none``: clear a quota), checked by the admin
    API's rules; a usage error naming the option otherwise. Scopes as a tuple in order."""
    from pydantic import ValidationError

    from editserve.services.key_admin import KeyChange
    from editserve.store.rows import SCOPES

    raw: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name == "scopes":
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif name in ("max_running", "gpu_seconds_per_day"):
            value = _quota(name, value)
        raw[name] = value
    try:
        checked = KeyChange.model_validate(raw).model_dump(exclude_unset=True)
    except ValidationError as exc:
        problems = [
            f"--{str(error['loc'][0]).replace('_', '-')}: "
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors()
        ]
        raise click.UsageError("; ".join(problems)) from None
    if "scopes" in checked:
        checked["scopes"] = tuple(scope for scope in SCOPES if scope in checked["scopes"])
    return checked


def _quota(name: str, text: str) -> int | float | None:
    if text.strip().lower() in CLEARS:
        return None
    try:
        return int(text) if name == "max_running" else float(text)
    except ValueError:
        kind = "a whole number" if name == "max_running" else "a number of seconds"
        raise click.UsageError(
            f"--{name.replace('_', '-')}: must be {kind} or none, not {text!r}"
        ) from None


def cli_actor() -> str:
    """Who the audit log names for a change made here: cli:<operating-system user>."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid, no USER/LOGNAME
        user = "unknown"
    return f"cli:{user}"


def described(row: ApiKeyRow) -> str:
    """A key's scopes, weight and quotas in one line."""
    return (
        f"scopes {','.join(row.scopes)}, weight {row.weight:g}, "
        f"max running {_or_default(row.max_running)}, "
        f"GPU-seconds per day {_or_default(row.gpu_seconds_per_day)}"
    )


def _or_default(value: float | None) -> str:
    return "default" if value is None else f"{value:g}"


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
    """List keys (ids, names, prefixes, scopes, weights, quotas; never secrets). A quota
    shown as - is the server's default."""
    rows = store_from(data_dir, database_url).list_keys()
    click.echo(
        f"{'ID':<18} {'NAME':<16} {'PREFIX':<12} {'CREATED':<20} {'SCOPES':<18} "
        f"{'WEIGHT':<7} {'MAX_RUNNING':<12} {'GPU_S/DAY':<10} STATUS"
    )
    for row in rows:
        created = dt.datetime.fromtimestamp(row.created_at).strftime("%Y-%m-%d %H:%M:%S")
        status = "revoked" if row.revoked_at else "active"
        running = "-" if row.max_running is None else str(row.max_running)
        per_day = "-" if row.gpu_seconds_per_day is None else f"{row.gpu_seconds_per_day:g}"
        click.echo(
            f"{row.id:<18} {row.name:<16} {row.prefix + '…':<12} {created:<20} "
            f"{','.join(row.scopes):<18} {row.weight:<7g} {running:<12} {per_day:<10} {status}"
        )


@keys.command("revoke")
@click.argument("key")
@store_options
def keys_revoke(key: str, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke KEY (its id, key_…, or the start of its secret). The last key with the
    admin scope stays: give another key admin first."""
    from editserve.services.keys import find_key_id
    from editserve.store import LastAdmin

    store = store_from(data_dir, database_url)
    key_id = find_key_id(store, key)
    try:
        revoked = key_id is not None and store.revoke_key(key_id, actor=cli_actor())
    except LastAdmin:
        raise click.ClickException(
            f"{key_id} is the last admin key; give another key the admin scope first "
            "(keys set KEY --scopes admin,submit,read)"
        ) from None
    if not revoked:
        raise click.ClickException(f"no active key matches {key!r}")
    click.echo(f"revoked {key_id}")


__all__ = ["keys"]
