"""The price table: what a model call costs, in USD per million tokens, reviewed like code.

Change a price by editing the table *and* bumping PRICE_TABLE_VERSION: every llm_logs row records the
version it was priced with, so an old row's cost can always be explained. Costs are Decimal end to end
(stored as NUMERIC(18, 8)), so sums are exact to the cent and below.

`input` is charged for uncached prompt tokens, `cached_input` for prompt tokens served from the provider's
prompt cache, `output` for completion tokens. Anthropic's cache *writes* are charged as plain input here,
slightly under their list price (1.25x); this table errs on the side of simplicity there only.

A model missing from the table is priced at its provider's `*` row, the most expensive price this table
lists for that provider, so an unlisted model is unlikely to be under-counted; list it to be exact.
Self-hosted (ollama) and offline calls cost nothing.
"""

from dataclasses import dataclass
from decimal import Decimal

PRICE_TABLE_VERSION = "2026-11.1"
_PER_TOKEN = Decimal(1_000_000)
# llm_logs.cost_usd is NUMERIC(18, 8): a cost is rounded to that once, here, so what a caller computes is
# what is stored and summed.
QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class Price:
    input: Decimal
    cached_input: Decimal
    output: Decimal


def _usd(input: str, cached_input: str, output: str) -> Price:
    return Price(Decimal(input), Decimal(cached_input), Decimal(output))


FREE = _usd("0", "0", "0")

# USD per 1M tokens: input, cached input, output (list prices published by each provider).
PRICES: dict[str, dict[str, Price]] = {
    "openai": {
        "gpt-5": _usd("1.25", "0.125", "10.00"),
        "gpt-5-mini": _usd("0.25", "0.025", "2.00"),
        "gpt-5-nano": _usd("0.05", "0.005", "0.40"),
        "gpt-4.1": _usd("2.00", "0.50", "8.00"),
        "gpt-4.1-mini": _usd("0.40", "0.10", "1.60"),
        "gpt-4.1-nano": _usd("0.10", "0.025", "0.40"),
        "gpt-4o": _usd("2.50", "1.25", "10.00"),
        "gpt-4o-mini": _usd("0.15", "0.075", "0.60"),
        "*": _usd("2.50", "1.25", "10.00"),
    },
    "anthropic": {
        "claude-opus-4-5": _usd("5.00", "0.50", "25.00"),
        "claude-sonnet-4-5": _usd("3.00", "0.30", "15.00"),
        "claude-haiku-4-5": _usd("1.00", "0.10", "5.00"),
        "*": _usd("5.00", "0.50", "25.00"),
    },
    "ollama": {"*": FREE},
    "offline": {"*": FREE},
    # A LangChain chat model can be anything; the deployment that plugs a paid one in lists it here.
    "langchain": {"*": FREE},
}


def price_for(provider: str, model: str) -> Price:
    table = PRICES.get(provider, {})
    return table.get(model) or table.get("*") or FREE


def cost_usd(provider: str, model: str, *, input_tokens: int, output_tokens: int, cached_tokens: int) -> Decimal:
    """Cost of one call. `input_tokens` counts every prompt token, cached ones included."""
    price = price_for(provider, model)
    uncached = max(input_tokens - cached_tokens, 0)
    total = uncached * price.input + cached_tokens * price.cached_input + output_tokens * price.output
    return (total / _PER_TOKEN).quantize(QUANTUM)
