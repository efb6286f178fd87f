"""The operator's price table (EDITSERVE_PRICES): what a generation costs, per model.

    {"<model id>": {"per_image": 0.02}, "*": {"per_gpu_second": 0.0005}}

``per_image`` is charged per output picture (a layered result's layers each count; a
failed or cancelled generation has none), ``per_gpu_second`` per worker second (every
finished run, failed ones too: the GPU was busy). A model not in the table takes ``"*"``;
with neither, or no table at all, its cost is null (nothing said, not zero).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from editserve.core.errors import InvalidParams

FIELD = "EDITSERVE_PRICES"


@dataclass(frozen=True)
class Price:
    per_image: float = 0.0
    per_gpu_second: float = 0.0


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, Price]
    currency: str

    def price_of(self, model: str) -> Price | None:
        return self.prices.get(model) or self.prices.get("*")

    def cost(self, model: str, images: float, gpu_seconds: float) -> float | None:
        """What this usage of model costs; None if the table says nothing of it."""
        price = self.price_of(model)
        if price is None:
            return None
        return round(price.per_image * images + price.per_gpu_second * gpu_seconds, 6)

    @property
    def set(self) -> bool:
        return bool(self.prices)


def load_prices(text: str, currency: str) -> PriceTable:
    """The table from EDITSERVE_PRICES (JSON, or the path of a JSON file; empty: none).
    InvalidParams naming the setting and the rule if it is not a table of prices."""
    text = text.strip()
    if not text:
        return PriceTable({}, currency)
    if not text.startswith("{"):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise InvalidParams(f"{FIELD}: cannot read {text!r} ({exc.strerror})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidParams(f"{FIELD}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise InvalidParams(f"{FIELD}: must be a JSON object of model: prices")
    return PriceTable({str(model): _price(model, entry) for model, entry in raw.items()}, currency)


def _price(model: str, entry: object) -> Price:
    where = f"{FIELD}[{model!r}]"
    if not isinstance(entry, dict) or not entry:
        raise InvalidParams(f"{where}: must be an object with per_image and/or per_gpu_second")
    unknown = set(entry) - {"per_image", "per_gpu_second"}
    if unknown:
        raise InvalidParams(f"{where}: unknown field {sorted(unknown)[0]!r}")
    values = {}
    for name, value in entry.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidParams(f"{where}.{name}: must be a number ≥ 0")
        values[name] = float(value)
    return Price(**values)


__all__ = ["Price", "PriceTable", "load_prices"]
