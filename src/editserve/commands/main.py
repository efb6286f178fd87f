"""The `editserve` command line.

Server-side commands (serve, worker, keys) live here; the client-side commands
(edit, queue, models) are registered from editserve.client.commands.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from editserve.commands.cluster import migrate as migrate_command
from editserve.commands.common import settings_or_exit, store_or_exit
from editserve.commands.prune import prune as prune_command
from editserve.core.settings import Settings


def _setup_logging(level: str, log_format: str = "text") -> None:
    from editserve.core.logs import setup_logging

    setup_logging(level, log_format)


def _refuse_bad_model_options(settings: Settings, devices: list[str]) -> None:
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


def _server_options(function: Callable[..., Any]) -> Callable[..., Any]:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="editserve")
def main() -> None:
    """editserve: self-hosted inference server for Qwen-Image-Edit-2509."""


@main.command()
@_server_options
@click.option("--host", help="EDITSERVE_HOST (default 127.0.0.1)")
@click.option("--port", type=int, help="EDITSERVE_PORT (default 8000)")
@click.option("--workers", type=int, help="EDITSERVE_WORKERS: worker processes (0 = API only)")
@click.option("--gpus", help="EDITSERVE_GPUS: CUDA device indexes, e.g. 0,1,2,3")
@click.option("--public-url", help="EDITSERVE_PUBLIC_URL: base URL in returned links")
def serve(**options: Any) -> None:
    """Start the HTTP API and supervise the worker processes."""
    import uvicorn

    from editserve.api.app import build_services, create_app
    from editserve.commands.cluster import announce_first_key, start_node_or_exit
    from editserve.worker.supervisor import Supervisor, plan_devices

    settings = settings_or_exit(**options)
    devices = plan_devices(settings)
    _refuse_bad_model_options(settings, devices)
    _setup_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("editserve")
    node = start_node_or_exit(settings, "api")  # database, storage, agreed settings
    services = build_services(settings, store=node.store, storage=node.storage)
    announce_first_key(node)
    supervisor = Supervisor(settings, services.store, devices)
    log.info(
        "editserve on http://%s:%d  data: %s  workers: %s",
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
        ", ".join(devices) or "none",
    )
    supervisor.start()
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    # would kill this process before the workers are stopped below.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        app = create_app(settings, services)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            # json: uvicorn's own loggers go through ours (one format on stderr)
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
            timeout_graceful_shutdown=5,
        )
    finally:
        supervisor.stop()


@main.command()
@_server_options
@click.option("--worker-id", help="Name of this worker (default host-pid).")
@click.option("--model", "model_id", help="Model id this worker serves.")
@click.option("--parent-pid", type=int, hidden=True, help="Exit when this process is gone.")
def worker(
    worker_id: str | None, model_id: str | None, parent_pid: int | None, **options: Any
) -> None:
    """Run one worker process in the foreground (claims jobs from the shared store)."""
    from editserve.commands.cluster import start_node_or_exit
    from editserve.worker.loop import Worker

    device = options.get("device")
    settings = settings_or_exit(**options)
    _refuse_bad_model_options(settings, [device or settings.device])
    _setup_logging(settings.log_level, settings.log_format)
    node = start_node_or_exit(settings, "worker")  # database, storage, agreed settings
    runner = Worker(
        settings, worker_id=worker_id, device=device, model=model_id, parent_pid=parent_pid,
        store=node.store, storage=node.storage,
    )  # fmt: skip
    runner.install_signal_handlers()
    sys.exit(runner.run())


@main.command()
@_server_options
@click.option("--prompt", help="Edit instruction (default: a fixed test instruction).")
@click.option("--images", type=click.IntRange(1, 3), default=1, show_default=True)
@click.option("--aspect-ratio", default="auto", show_default=True, help="1:1, 16:9, ..., auto")
@click.option("--preview", is_flag=True, help="Size output and VAE at EDITSERVE_PREVIEW_AREA.")
@click.option("--steps", type=int, help="Default: the request default (preset-aware).")
@click.option("--cfg", "true_cfg_scale", type=float, help="true_cfg_scale (default: preset-aware).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Save the output image here.")
@click.option("--no-warmup", is_flag=True, help="Skip the warm-up run a worker does.")
def smoke(**options: Any) -> None:
    """Load the model as a worker would, run one edit, print the receipt and timings (JSON)."""
    import json

    from editserve.commands.smoke import SmokeFailed, SmokeRequest, run_smoke

    request = SmokeRequest(
        prompt=options.pop("prompt") or SmokeRequest.prompt,
        images=options.pop("images"),
        aspect_ratio=options.pop("aspect_ratio"),
        preview=options.pop("preview"),
        steps=options.pop("steps"),
        true_cfg_scale=options.pop("true_cfg_scale"),
        seed=options.pop("seed"),
        batch=options.pop("batch"),
        out=options.pop("out"),
        warmup=not options.pop("no_warmup"),
    )
    device = options.get("device")
    settings = settings_or_exit(**options)
    _refuse_bad_model_options(settings, [device or settings.device])
    _setup_logging(settings.log_level, settings.log_format)
    try:
        report = run_smoke(settings, request, device=device)
    except SmokeFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report, indent=2))


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


def _store(data_dir: Path | None, database_url: str | None) -> Any:
    return store_or_exit(settings_or_exit(data_dir=data_dir, database_url=database_url))


_key_store_options = [
    click.option("--data-dir", type=click.Path(path_type=Path), help="EDITSERVE_DATA_DIR"),
    click.option("--database-url", help="EDITSERVE_DATABASE_URL"),
]


def _with_key_store(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_key_store_options):
        function = option(function)
    return function


@keys.command("create")
@click.option("--name", default="default", show_default=True, help="A label for the key.")
@_with_key_store
def keys_create(name: str, data_dir: Path | None, database_url: str | None) -> None:
    """Create a key and print its secret (shown only this once)."""
    from editserve.services.keys import create_key

    key = create_key(_store(data_dir, database_url), name)
    click.echo(f"{key.row.id}\t{key.row.name}", err=True)
    click.echo(f"webhook signing secret (shown once): {key.webhook_secret}", err=True)
    click.echo(key.secret)


@keys.command("webhook")
@click.argument("key")
@click.option("--url", help="The key's default webhook (requests without one use it).")
@click.option("--clear", is_flag=True, help="Remove the key's default webhook.")
@click.option("--rotate-secret", is_flag=True, help="Make and print a new signing secret.")
@_with_key_store
def keys_webhook(
    key: str,
    url: str | None,
    clear: bool,
    rotate_secret: bool,
    data_dir: Path | None,
    database_url: str | None,
) -> None:
    """Set KEY's default webhook, or rotate its webhook signing secret."""
    from editserve.services.keys import find_key_id, set_default_webhook

    if not (url or clear or rotate_secret):
        raise click.UsageError("say what to change: --url URL, --clear or --rotate-secret")
    store = _store(data_dir, database_url)
    allow = settings_or_exit(data_dir=data_dir, database_url=database_url).fetch_allow_hosts
    key_id = find_key_id(store, key)
    if key_id is None:
        raise click.ClickException(f"no active key matches {key!r}")
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
    click.echo(message)


@keys.command("list")
@_with_key_store
def keys_list(data_dir: Path | None, database_url: str | None) -> None:
    """List keys (ids, names, prefixes; never secrets)."""
    import datetime as dt

    rows = _store(data_dir, database_url).list_keys()
    click.echo(f"{'ID':<18} {'NAME':<16} {'PREFIX':<12} {'CREATED':<20} STATUS")
    for row in rows:
        created = dt.datetime.fromtimestamp(row.created_at).strftime("%Y-%m-%d %H:%M:%S")
        status = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id:<18} {row.name:<16} {row.prefix + '…':<12} {created:<20} {status}")


@keys.command("revoke")
@click.argument("key")
@_with_key_store
def keys_revoke(key: str, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke KEY (its id, key_…, or the start of its secret)."""
    from editserve.services.keys import find_key_id

    store = _store(data_dir, database_url)
    key_id = find_key_id(store, key)
    if key_id is None or not store.revoke_key(key_id):
        raise click.ClickException(f"no active key matches {key!r}")
    click.echo(f"revoked {key_id}")


@main.command()
@click.argument("models", nargs=-1)
@click.option("--model-weights", help="EDITSERVE_MODEL_WEIGHTS: auto | hub id | folder")
@click.option("--model-revision", help="EDITSERVE_MODEL_REVISION: branch, tag or commit")
@click.option("--lightning", help="EDITSERVE_LIGHTNING: off | 4 | 8 (also fetches its LoRA)")
@click.option("--lightning-lora", help="EDITSERVE_LIGHTNING_LORA")
@click.option(
    "--keep-free", default="1GB", show_default=True, help="Refuse unless this stays free."
)
@click.option("--parallel", type=click.IntRange(1, 16), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for scripts).")
def pull(
    models: tuple[str, ...], keep_free: str, parallel: int, as_json: bool, **options: Any
) -> None:
    """Download the weights of the configured (or named) MODELS into the Hugging Face cache.

    With bytes, speed and ETA; Ctrl-C and run it again to resume; pinned to the configured
    revision; every file checked against the hub; refused up front if the disk is too small.
    """
    from editserve.commands.pull import (
        EXIT_INTERRUPTED,
        PullOptions,
        allow_downloads,
        parse_size,
        run_pull,
    )

    if allow_downloads() and not as_json:
        click.echo("HF_HUB_OFFLINE is set: lifted for this pull.", err=True)
    settings = settings_or_exit(**options)
    try:
        reserve = parse_size(keep_free)
    except ValueError:
        raise click.BadParameter(
            f"{keep_free!r} is not a size such as 5GB", param_hint="--keep-free"
        ) from None
    request = PullOptions(list(models), as_json, reserve, parallel)
    code = run_pull(settings, request)
    if code == EXIT_INTERRUPTED:  # a transfer stalled in a read must not hold the exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


@main.command()
@_with_key_store
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds (--watch).")
@click.option("--json", "as_json", is_flag=True, help="JSON (one document per refresh).")
def status(
    data_dir: Path | None, database_url: str | None, watch: bool, interval: float, as_json: bool
) -> None:
    """Models, workers, devices, start-up stages and queue depth, read from the store."""
    from editserve.commands.status import run_status
    from editserve.models.registry import served_registry

    store = _store(data_dir, database_url)
    served = served_registry(settings_or_exit(data_dir=data_dir, database_url=database_url))
    sys.exit(
        run_status(
            store, watch=watch, interval=max(0.2, interval), as_json=as_json, registry=served
        )
    )


@main.command()
@_server_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def doctor(as_json: bool, **options: Any) -> None:
    """Check this machine for serving: GPUs, memory fit, disk, versions, hub, database.

    One line per check with its fix; exits 1 when something blocks serving.
    """
    from editserve.commands.doctor import run_doctor

    sys.exit(run_doctor(settings_or_exit(**options), as_json_output=as_json))


def _register_client_commands() -> None:
    try:
        from editserve.client.commands import register
    except ImportError:  # the client package is optional while it is being built
        return
    register(main)


_register_client_commands()
main.add_command(prune_command)
main.add_command(migrate_command)
