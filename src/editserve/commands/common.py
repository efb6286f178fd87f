"""What server-side commands start with: their settings (flags over EDITSERVE_*
variables) and the store, or one line that says what is wrong, without a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from editserve.core.settings import Settings, load_settings

if TYPE_CHECKING:
    from editserve.store import Store


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError: show it, no traceback
        raise click.UsageError(f"invalid settings: {exc}") from None


def store_or_exit(settings: Settings) -> Store:
    """The store (migrations applied), or exit with the database, the reason and the fix."""
    from editserve.services.cluster.node import NodeRefused, open_store_checked

    try:
        return open_store_checked(settings)
    except NodeRefused as exc:
        raise click.ClickException(str(exc)) from None


__all__ = ["settings_or_exit", "store_or_exit"]
