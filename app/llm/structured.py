"""Structured output: the schema sent to providers, parsing and validating answers, the repair request,
business validators and the confidence score."""

import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

# A business validator looks at a schema-valid answer and returns what is wrong with it (nothing: fine).
Validator = Callable[[T], Iterable[str]]

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")
MAX_REPORTED_ERRORS = 20


@lru_cache(maxsize=256)
def schema_of(model: type[BaseModel]) -> tuple[str, dict[str, Any]]:
    """(name, JSON schema) of an output model; names are restricted to what tool and schema APIs accept."""
    return _SCHEMA_NAME.sub("_", model.__name__)[:64], model.model_json_schema()


def parse_answer(text: str, model: type[T]) -> tuple[T | None, list[str]]:
    """The validated answer, or None and readable errors ("field.path: message")."""
    fenced = _FENCE.match(text)
    body = fenced.group("body") if fenced else text
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return None, [f"the answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()]
        return None, errors[:MAX_REPORTED_ERRORS]


def business_issues(answer: T, validators: Iterable[Validator]) -> list[str]:
    issues: list[str] = []
    for validator in validators:
        issues.extend(validator(answer))
    return issues


def with_schema_instructions(system: str, json_schema: dict[str, Any]) -> str:
    return (f"{system}\n\nAnswer with one JSON object, and nothing else, that matches this JSON schema:\n"
            f"{json.dumps(json_schema)}")


def repair_request(errors: list[str]) -> str:
    listed = "\n".join(f"- {error}" for error in errors)
    return ("Your previous answer was rejected for these reasons:\n"
            f"{listed}\n\n"
            "Answer again with the complete corrected JSON object, following the schema exactly, and nothing else.")


def confidence(answer: BaseModel, *, repaired: bool, issues: int, offline: bool, fell_back: bool) -> float:
    """How much to trust an answer, 0 to 1, from what the orchestrator saw.

    Starts at the model's own `confidence` field when the schema has one (clamped to 0..1), else 1. Each
    remaining business issue halves it; a repaired answer, one from a fallback provider, and any offline
    answer (filled by rules, not judged by a model) are discounted. Agents compare it with their review
    threshold; the factors are documented in docs/llm.md.
    """
    stated = getattr(answer, "confidence", None)
    score = min(max(float(stated), 0.0), 1.0) if isinstance(stated, (int, float)) else 1.0
    if repaired:
        score *= 0.8
    if fell_back:
        score *= 0.9
    if offline:
        score *= 0.5
    score *= 0.5 ** issues
    return round(score, 4)
