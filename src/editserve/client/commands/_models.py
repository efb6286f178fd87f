"""``editserve models``: the served models and their parameters."""

from __future__ import annotations

import json
from typing import Any

import click

from editserve.client._types import Model
from editserve.client.commands._common import (
    connection_options,
    handle_errors,
    make_client,
    print_json,
    print_table,
)


@click.command()
@click.argument("model_id", required=False)
@connection_options
def models(model_id: str | None, url: str | None, api_key: str | None, as_json: bool) -> None:
    """List the served models, or show one model (MODEL_ID) and its parameters."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        if model_id is None:
            found = client.models.list()
            if as_json:
                print_json({"object": "list", "data": [m.raw for m in found]})
                return
            print_table(
                ["ID", "NAME", "WEIGHTS", "READY"],
                [[m.id, m.display_name or "", _weights(m), _readiness(m)] for m in found],
            )
            return
        model = client.models.get(model_id)
        if as_json:
            print_json(model.raw)
            return
        _show_model(model)


def _show_model(model: Model) -> None:
    click.echo(f"{model.id}  {model.display_name or ''}".rstrip())
    if model.summary:
        click.echo(model.summary)
    for name, value in (
        ("aliases", ", ".join(model.aliases)),
        ("source", model.source_model),
        ("endpoint", model.endpoint),
        ("weights", _weights(model)),
        ("ready", _readiness(model)),
        ("loras", ", ".join(str(lora.get("name")) for lora in model.raw.get("loras") or [])),
    ):
        if value:
            click.echo(f"  {name:<9} {value}")
    click.echo("parameters:")
    required = set(model.required)
    rows = []
    for name, prop in model.parameters.items():
        kind = prop.get("type") or "/".join(
            str(option.get("type")) for option in prop.get("anyOf", []) if option.get("type")
        )
        rule = _rule(prop)
        if name in required:
            default = "required"
        else:
            default = json.dumps(prop["default"]) if "default" in prop else ""
        rows.append([name, kind, default, rule])
    print_table(["NAME", "TYPE", "DEFAULT", "VALUES"], rows, indent="  ")


def _rule(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " | ".join(str(v) for v in prop["enum"])
    low = prop.get("minimum", prop.get("minItems"))
    high: Any = prop.get("maximum", prop.get("maxItems"))
    if "exclusiveMaximum" in prop:
        high = f"<{prop['exclusiveMaximum']}"
    if low is not None or high is not None:
        return f"{'' if low is None else low}..{'' if high is None else high}"
    return ""


def _weights(model: Model) -> str:
    weights = model.raw.get("weights")
    if isinstance(weights, dict):
        return str(weights.get("source") or weights.get("id") or weights.get("kind") or "")
    return str(weights or "")


def _readiness(model: Model) -> str:
    value = model.raw.get("readiness", model.raw.get("ready"))
    if isinstance(value, dict):
        value = value.get("state") or value.get("status") or value.get("ready")
    return "" if value is None else str(value)
