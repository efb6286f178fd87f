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


def store_or_exit(settings: Settings) -> Store:
    """The store (migrations applied), or exit with the database, the reason and the fix."""
    from editserve.services.cluster.node import NodeRefused, open_store_checked

    try:
        return open_store_checked(settings)
    except NodeRefused as exc:
        raise click.ClickException(str(exc)) from None


def store_from(data_dir: Path | None, database_url: str | None) -> Store:
    """The store of the commands that take only --data-dir and --database-url."""
    return store_or_exit(settings_or_exit(data_dir=data_dir, database_url=database_url))


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
    "server_options",
    "settings_or_exit",
    "store_from",
    "store_options",
    "store_or_exit",
]
