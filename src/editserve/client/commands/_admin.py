"""``editserve admin``: the fleet's keys and their audit log, over HTTP (the calling key
needs the admin scope). ``editserve keys`` is its server-side twin, which opens the
database directly."""

from __future__ import annotations

from typing import Any

import click

from editserve.client._admin_types import SCOPES, ApiKey
from editserve.client.commands._common import (
    connection_options,
    err,
    handle_errors,
    make_client,
    print_json,
    print_table,
    short,
    when,
)
from editserve.client.commands._usage import number

CLEARS = ("none", "unlimited")


class _Clearable(click.ParamType):
    """A number, or ``none``/``unlimited`` (which clears the quota: sent as null)."""

    def __init__(self, kind: type[int] | type[float]) -> None:
        self.kind = kind
        self.name = f"{kind.__name__}|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, (int, float)):
            return value
        text = str(value).strip()
        if text.lower() in CLEARS:
            return _CLEAR
        try:
            return self.kind(text)
        except ValueError:
            kind = "a whole number" if self.kind is int else "a number"
            self.fail(f"expected {kind} or 'none' (no limit), got {text!r}", param, ctx)


class _Clear:
    def __repr__(self) -> str:
        return "none"


_CLEAR = _Clear()


def _scopes(value: str | None) -> list[str] | None:
    if value is None:
        return None
    scopes = [s.strip() for s in value.split(",") if s.strip()]
    for scope in scopes:
        if scope not in SCOPES:
            raise click.BadParameter(
                f"unknown scope {scope!r} (known: {', '.join(SCOPES)})", param_hint="--scopes"
            )
    return scopes


def key_options(func: Any) -> Any:
    """The settings of a key that ``create`` and ``set`` take."""
    options = [
        click.option(
            "--scopes",
            metavar="LIST",
            help=f"Comma list of {', '.join(SCOPES)} (new keys: submit,read).",
        ),
        click.option(
            "--weight",
            type=float,
            help="Fair-share weight (> 0, default 1): more weight, more share when keys compete.",
        ),
        click.option(
            "--max-running",
            type=_Clearable(int),
            help="Most generations queued or running at once ('none': no limit).",
        ),
        click.option(
            "--gpu-seconds-per-day",
            type=_Clearable(float),
            help="GPU-seconds allowed per 24 hours ('none': no limit).",
        ),
        click.option(
            "--webhook-url",
            metavar="URL",
            help="Where this key's webhooks go ('none' clears it).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _changes(**values: Any) -> dict[str, Any]:
    """The options given, with ``none`` as ``None`` (which the server reads as: clear)."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name == "webhook_url" and str(value).strip().lower() in CLEARS:
            value = _CLEAR
        changes[name] = None if value is _CLEAR else value
    if "scopes" in changes:
        changes["scopes"] = _scopes(changes["scopes"])
    return changes


@click.group()
def admin() -> None:
    """Manage the fleet's API keys over HTTP (needs a key with the admin scope)."""


@admin.group("keys")
def admin_keys() -> None:
    """List, create, show, change and revoke API keys."""


@admin_keys.command("list")
@connection_options
def keys_list(url: str | None, api_key: str | None, as_json: bool) -> None:
    """List every key (revoked ones too)."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        found = client.admin.keys.list()
        if as_json:
            print_json({"keys": [k.raw for k in found]})
            return
        print_table(
            ["ID", "NAME", "PREFIX", "SCOPES", "WEIGHT", "MAX RUNNING", "GPU-S/DAY", "STATE"],
            [_key_row(k) for k in found],
        )


def _key_row(key: ApiKey) -> list[str]:
    return [
        key.id,
        short(key.name or "", 24),
        key.prefix or "",
        ",".join(key.scopes),
        number(key.weight),
        "-" if key.max_running is None else str(key.max_running),
        "-" if key.gpu_seconds_per_day is None else number(key.gpu_seconds_per_day),
        "revoked" if key.revoked else "active",
    ]


@admin_keys.command("create")
@click.argument("name")
@key_options
@connection_options
def keys_create(
    name: str, url: str | None, api_key: str | None, as_json: bool, **opts: Any
) -> None:
    """Create a key called NAME; print its secret (shown only this once) on stdout."""
    changes = _changes(**opts)
    with handle_errors(as_json), make_client(url, api_key) as client:
        key = client.admin.keys.create(name, **changes)
        if as_json:
            print_json(key.raw)
            return
        err(f"Created {key.id} ({key.name}), scopes {','.join(key.scopes)}.")
        if key.webhook_secret:
            err(f"Webhook signing secret (shown only once): {key.webhook_secret}")
        err("The key's secret, shown only this once:")
        click.echo(key.key or "")


@admin_keys.command("show")
@click.argument("key_id", metavar="ID")
@connection_options
def keys_show(key_id: str, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Show one key."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        key = client.admin.keys.get(key_id)
        if as_json:
            print_json(key.raw)
            return
        show_key(key)


def show_key(key: ApiKey) -> None:
    rows: list[tuple[str, Any]] = [
        ("id", key.id),
        ("name", key.name),
        ("prefix", key.prefix),
        ("scopes", ",".join(key.scopes)),
        ("weight", number(key.weight)),
        ("max_running", "unlimited" if key.max_running is None else key.max_running),
        (
            "gpu_s_per_day",
            "unlimited" if key.gpu_seconds_per_day is None else number(key.gpu_seconds_per_day),
        ),
        ("webhook_url", key.webhook_url),
        ("created_at", when(key.created_at)),
        ("revoked_at", when(key.revoked_at)),
    ]
    for name, value in rows:
        if value not in (None, ""):
            click.echo(f"{name:<14} {value}")


@admin_keys.command("set")
@click.argument("key_id", metavar="ID")
@click.option("--name", help="A new name.")
@key_options
@connection_options
def keys_set(key_id: str, url: str | None, api_key: str | None, as_json: bool, **opts: Any) -> None:
    """Change a key's name, scopes, weight, quotas or webhook URL."""
    changes = _changes(**opts)
    if not changes:
        raise click.UsageError(
            "nothing to change: give --name, --scopes, --weight, --max-running, "
            "--gpu-seconds-per-day or --webhook-url"
        )
    with handle_errors(as_json), make_client(url, api_key) as client:
        key = client.admin.keys.update(key_id, **changes)
        if as_json:
            print_json(key.raw)
            return
        show_key(key)


@admin_keys.command("revoke")
@click.argument("key_id", metavar="ID")
@connection_options
def keys_revoke(key_id: str, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Revoke a key: it is refused from now on (the last admin key cannot be revoked)."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        revoked = client.admin.keys.revoke(key_id)
        if as_json:
            print_json({"id": key_id, "revoked": revoked})
            return
        click.echo(f"{key_id} {'revoked' if revoked else 'not revoked'}")


@admin.command("audit")
@click.option("--key", "key_id", metavar="ID", help="Only this key's changes.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries.")
@click.option("--before", type=int, metavar="SEQ", help="Entries before this one (paging).")
@connection_options
def audit(
    key_id: str | None,
    limit: int | None,
    before: int | None,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """The audit log of key changes (create, update, revoke), newest first."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        page = client.admin.audit(key_id=key_id, limit=limit, before=before)
        if as_json:
            print_json(page.raw)
            return
        if not page.entries:
            err("No audit entries.")
            return
        print_table(
            ["SEQ", "AT", "ACTOR", "ACTION", "KEY", "DETAIL"],
            [
                [
                    str(e.seq),
                    when(None if e.at is None else int(e.at)) or "",
                    e.actor or "",
                    e.action,
                    e.key_id or "",
                    short(_detail(e.detail), 60),
                ]
                for e in page.entries
            ],
        )
        if page.next_before is not None:
            err(f"More: editserve admin audit --before {page.next_before}")


def _detail(detail: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in detail.items())
