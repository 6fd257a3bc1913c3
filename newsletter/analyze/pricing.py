"""Estimated cost of a run from a small TOML price table (dollars per million tokens)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import ConfigError

PACKAGED = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class Price:
    input: float = 0.0
    output: float = 0.0

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input + tokens_out * self.output) / 1_000_000


def load_price(model: str, path: Path | None = None) -> Price:
    path = path or PACKAGED
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh).get("models", {})
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(
            f"cannot read the price table {path}: {err}", hint="see newsletter/analyze/prices.toml"
        ) from err
    entry = table.get(model)
    if entry is None:
        # Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their family costs.
        family = max((name for name in table if model.startswith(name)), key=len, default=None)
        entry = table.get(family, {}) if family else {}
    try:
        return Price(input=float(entry.get("input", 0)), output=float(entry.get("output", 0)))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"price of {model!r} in {path} is not a number") from err
