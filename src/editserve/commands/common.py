"""What the server-side commands share: their settings (flags over EDITSERVE_* variables)
and the store, or one line that says what is wrong, without a traceback; and the option
sets several commands take."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from editserve.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from editserve.store import Store


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings, with their model names made registered ids (unknown ones refused)."""
    from editserve.models.registry import resolve_models

    try:
        return resolve_models(load_settings(**overrides))
    except Exception as exc:  # pydantic ValidationError, an unknown model: no traceback
        raise click.UsageError(f"invalid settings: {exc}") from None


def missing_sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file the settings name, if it does not exist (else None; PostgreSQL too)."""
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    if str(path) in (":memory:", "") or path.exists():
        return None
    return path


def store_or_exit(settings: Settings, *, must_exist: bool = True) -> Store:
    """The store (migrations applied), or exit with the database, the reason and the fix.

    ``must_exist`` (the commands that read or change what a server stored): a SQLite file
    that is not there is an error naming where it was looked for, never a new empty
    database. ``serve``, ``worker`` and ``migrate`` create it (they do not come here).
    """
    from editserve.services.cluster.node import NodeRefused, open_store_checked

    missing = missing_sqlite_file(settings) if must_exist else None
    if missing is not None:
        where = "EDITSERVE_DATABASE_URL" if settings.database_url else "the data dir"
        raise click.ClickException(
            f"no database at {missing.resolve()} ({where}); point at the server's with "
            "--data-dir or EDITSERVE_DATA_DIR (or --database-url / EDITSERVE_DATABASE_URL), "
            "or create it with `editserve migrate` or `editserve serve`"
        )
    try:
        return open_store_checked(settings)
    except NodeRefused as exc:
        raise click.ClickException(str(exc)) from None


def store_from(
    data_dir: Path | None, database_url: str | None, *, must_exist: bool = True
) -> Store:
    """The store of the commands that take only --data-dir and --database-url (an existing
    one: see :func:`store_or_exit`)."""
    settings = settings_or_exit(data_dir=data_dir, database_url=database_url)
    return store_or_exit(settings, must_exist=must_exist)


def server_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The settings of serve, worker, smoke and doctor, as flags."""
    options = [
        click.option("--data-dir", type=click.Path(path_type=Path), help="EDITSERVE_DATA_DIR"),
        click.option(
            "--database-url", help="EDITSERVE_DATABASE_URL (sqlite:///… or postgresql://…)"
        ),
        click.option("--storage-url", help="EDITSERVE_STORAGE_URL (file:///… or s3://…)"),
        click.option(
            "--model-weights", help="EDITSERVE_MODEL_WEIGHTS: auto | tiny | hub id | folder"
        ),
        click.option("--model-revision", help="EDITSERVE_MODEL_REVISION"),
        click.option("--device", help="EDITSERVE_DEVICE: auto | cpu | cuda | cuda:N"),
        click.option("--dtype", help="EDITSERVE_DTYPE: auto | bf16 | fp16 | fp32"),
        click.option("--log-level", help="EDITSERVE_LOG_LEVEL"),
        click.option(
            "--fetch-allow-hosts",
            help="EDITSERVE_FETCH_ALLOW_HOSTS: hosts, *.domains or CIDRs (comma list) that "
            "input and webhook URLs may reach although loopback or private, e.g. 127.0.0.1",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def store_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir and --database-url: the commands that read or write only the store."""
    options = [
        click.option("--data-dir", type=click.Path(path_type=Path), help="EDITSERVE_DATA_DIR"),
        click.option("--database-url", help="EDITSERVE_DATABASE_URL"),
    ]
    for option in reversed(options):
        function = option(function)
    return function


__all__ = [
    "missing_sqlite_file",
    "server_options",
    "settings_or_exit",
    "store_from",
    "store_options",
    "store_or_exit",
]
