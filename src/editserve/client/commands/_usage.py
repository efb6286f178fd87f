"""``editserve usage``: what a key used (generations, GPU-seconds, megapixels, cost) and
where it stands against its quotas."""

from __future__ import annotations

import click

from editserve.client._admin_types import GROUP_BY, Quotas, UsageReport, UsageRow
from editserve.client.commands._common import (
    connection_options,
    err,
    handle_errors,
    make_client,
    print_json,
    print_table,
)

WHEN_HELP = "a date YYYY-MM-DD, an ISO-8601 time or unix seconds"


@click.command()
@click.option("--from", "from_", metavar="WHEN", help=f"Start ({WHEN_HELP}; default: 30 days ago).")
@click.option("--to", metavar="WHEN", help=f"End ({WHEN_HELP}; default: now).")
@click.option(
    "--group-by",
    type=click.Choice(GROUP_BY),
    default="day",
    show_default=True,
    help="One row per day, per model, or per key (per key: admin keys only).",
)
@click.option(
    "--key",
    metavar="ID|all",
    help="Another key's usage (its id, key_…), or every key's: all (admin keys only).",
)
@connection_options
def usage(
    from_: str | None,
    to: str | None,
    group_by: str,
    key: str | None,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Show this key's usage (the last 30 days by default) and its quotas."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        report = client.usage.get(from_, to, group_by=group_by, key=key)
        if as_json:
            print_json(report.raw)
            return
        print_report(report)


def number(value: float, digits: int = 2) -> str:
    """A figure with ``digits`` decimals, or ``digits`` significant digits below 1, without
    trailing zeros: ``34.567`` as ``34.57``, ``3.0`` as ``3``, ``0.004096`` as ``0.0041``
    (a small amount never reads as 0)."""
    text = f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}"
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def print_report(report: UsageReport) -> None:
    whose = "every key" if report.key == "all" else (report.key or "this key")
    click.echo(f"Usage of {whose} from {report.from_ or '?'} to {report.to or '?'}")
    priced = report.currency is not None or any(
        row.cost is not None for row in [*report.rows, report.total]
    )
    headers = [report.group_by.upper(), "GENERATIONS", "SUCCEEDED", "GPU-SECONDS", "MEGAPIXELS"]
    if priced:
        headers.append(f"COST ({report.currency})" if report.currency else "COST")
    if report.rows:
        rows = [_cells(row.group or "", row, priced) for row in report.rows]
        print_table(headers, [*rows, _cells("total", report.total, priced)])
    else:
        err("No generations finished in this period.")
    if report.quotas is not None:
        click.echo(quota_line(report.quotas))


def _cells(label: str, row: UsageRow, priced: bool) -> list[str]:
    cells = [
        label,
        str(row.generations),
        str(row.succeeded),
        number(row.gpu_seconds),
        number(row.output_megapixels),
    ]
    if priced:
        cells.append("" if row.cost is None else number(row.cost, 4))
    return cells


def quota_line(quotas: Quotas) -> str:
    """``Quotas: running 3 of 100, GPU-seconds in the last 24 h 34.5 of unlimited, weight 1``"""
    running_max = "unlimited" if quotas.max_running is None else str(quotas.max_running)
    per_day = (
        "unlimited" if quotas.gpu_seconds_per_day is None else number(quotas.gpu_seconds_per_day)
    )
    return (
        f"Quotas: running {quotas.running} of {running_max}, GPU-seconds in the last 24 h "
        f"{number(quotas.gpu_seconds_last_24h)} of {per_day}, weight {number(quotas.weight)}"
    )
