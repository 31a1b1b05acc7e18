"""`offline`: the default provider. Deterministic, rule-based, no network, no model, no cost.

A prompt can have its own answerer: a function registered for the prompt's key and output schema
(`register_answerer`) that builds the answer from the prompt's variables by the domain's rules, so that
an agent's offline output reads like the product (the SDR agent's judgements from the lead's fields and
the retrieved ICP, say). Agent modules register theirs; this package imports no agent. An answerer may
decline (None) when the variables do not carry what it needs, and the generic filler answers instead.

The generic filler answers any output schema by walking the schema's JSON Schema and filling each field from the prompt's
variables: a field named like a variable (anywhere in the variables, `lead.company` answers `company`)
takes that value; otherwise strings are composed from the inputs and start with "[offline]", numbers are
picked within their bounds, enums and array lengths honour the schema. Optional fields keep their defaults. Choices come from a hash of the
inputs, so the same inputs always give the same answer, and different leads get different scores.

What it cannot do: satisfy a `pattern` that no input value matches, or a Pydantic validator beyond the
schema. Such an answer fails validation like a bad model answer would, and the call fails permanently.
It is labelled everywhere: provider `offline` in llm_logs, `offline: true` on the Generation, and the
"[offline]" prefix on every text it composes.
"""

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from app.llm.providers.base import ModelRequest, ModelResponse
from app.llm.structured import schema_of

OFFLINE_MARK = "[offline]"
_FACTS_LIMIT = 240
_DEFAULT_ARRAY_ITEMS = 2
_FIXED_DATE = "2000-01-01"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# answerer(variables) -> the answer (a model of the registered schema, or its JSON data), or None to decline.
Answerer = Callable[[dict[str, Any]], BaseModel | dict[str, Any] | None]
_ANSWERERS: dict[tuple[str, str], Answerer] = {}


def register_answerer(prompt_key: str, output_model: type[BaseModel], answerer: Answerer) -> Answerer:
    """Answer prompt `prompt_key` asked for `output_model` with `answerer` instead of the generic filler."""
    key = (prompt_key, schema_of(output_model)[0])
    if _ANSWERERS.get(key, answerer) is not answerer:
        raise ValueError(f"an offline answerer for {prompt_key!r} ({key[1]}) is registered twice")
    _ANSWERERS[key] = answerer
    return answerer


class OfflineProvider:
    name = "offline"
    structured_output = True
    endpoint = "offline"

    def complete(self, request: ModelRequest) -> ModelResponse:
        answerer = _ANSWERERS.get((request.prompt_key, request.schema_name))
        answer = answerer(request.variables) if answerer is not None else None
        if isinstance(answer, BaseModel):
            answer = answer.model_dump(mode="json")
        if answer is None:
            answer = _Filler(request.json_schema, request.variables).build()
        return ModelResponse(text=json.dumps(answer, ensure_ascii=False), finish_reason="offline")


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, Decimal)) and value != ""


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class _Filler:
    def __init__(self, schema: dict[str, Any], variables: dict[str, Any]):
        self.schema = schema
        self.defs = schema.get("$defs", {})
        canonical = json.dumps(variables, sort_keys=True, default=str)
        self.seed = hashlib.sha256(canonical.encode()).hexdigest()
        self.by_name: dict[str, Any] = {}
        self.leaves: list[tuple[str, Any]] = []
        self._index(variables, "")

    def _index(self, value: Any, path: str) -> None:
        """Breadth-first, so a top-level variable wins over a nested field of the same name."""
        queue: list[tuple[str, Any]] = [(path, value)]
        while queue:
            prefix, current = queue.pop(0)
            if isinstance(current, dict):
                for key, item in current.items():
                    name = f"{prefix}.{key}" if prefix else str(key)
                    self.by_name.setdefault(_normalise(str(key)), item)
                    if _scalar(item):
                        self.leaves.append((name, item))
                    queue.append((name, item))
            elif isinstance(current, list):
                for index, item in enumerate(current[:5]):
                    queue.append((f"{prefix}[{index}]", item))

    def build(self) -> Any:
        return self._fill(self.schema, "answer", "$")

    def _pick(self, path: str, choices: int) -> int:
        digest = hashlib.sha256(f"{self.seed}:{path}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % max(choices, 1)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = {**self.defs[schema["$ref"].rsplit("/", 1)[-1]],
                      **{k: v for k, v in schema.items() if k != "$ref"}}
        if "allOf" in schema and len(schema["allOf"]) == 1:
            schema = {**self._resolve(schema["allOf"][0]), **{k: v for k, v in schema.items() if k != "allOf"}}
        return schema

    def _fill(self, schema: dict[str, Any], name: str, path: str) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        given = self.by_name.get(_normalise(name))
        if "enum" in schema:
            return given if given in schema["enum"] else schema["enum"][self._pick(path, len(schema["enum"]))]
        for union in ("anyOf", "oneOf"):
            if union in schema:
                options = [self._resolve(o) for o in schema[union]]
                concrete = [o for o in options if o.get("type") != "null"] or options
                return self._fill(concrete[0], name, path)
        kind = schema.get("type", "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            return self._object(schema, path)
        if kind == "array":
            return self._array(schema, name, path, given)
        if kind == "integer":
            return self._integer(schema, path, given)
        if kind == "number":
            return self._number(schema, path, given)
        if kind == "boolean":
            return given if isinstance(given, bool) else False
        if kind == "null":
            return None
        return self._string(schema, name, path, given)

    def _object(self, schema: dict[str, Any], path: str) -> dict[str, Any]:
        required = set(schema.get("required", ()))
        out = {}
        for key, sub in schema.get("properties", {}).items():
            if key in required:
                out[key] = self._fill(sub, key, f"{path}.{key}")
            elif "default" in (resolved := self._resolve(sub)):
                out[key] = resolved["default"]
            # Other optional fields stay out: the model's own default applies, and nothing optional is invented.
        return out

    def _array(self, schema: dict[str, Any], name: str, path: str, given: Any) -> list[Any]:
        low, high = schema.get("minItems", 0), schema.get("maxItems")
        items = schema.get("items", {})
        if isinstance(given, list) and given and self._resolve(items).get("type") == "string":
            values = [v if isinstance(v, str) else json.dumps(v, default=str) for v in given]
        else:
            count = max(low, _DEFAULT_ARRAY_ITEMS)
            count = min(count, high) if high is not None else count
            singular = name[:-1] if name.endswith("s") else name
            values = [self._fill(items, singular, f"{path}[{index}]") for index in range(count)]
        values = values[:high] if high is not None else values
        if schema.get("uniqueItems"):
            values = [v for index, v in enumerate(values) if v not in values[:index]]
        while len(values) < low:
            values.append(self._fill(items, name, f"{path}[{len(values)}]"))
        return values

    @staticmethod
    def _bounds(schema: dict[str, Any], step: float) -> tuple[float | None, float | None]:
        low = schema.get("minimum")
        if "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + step
        high = schema.get("maximum")
        if "exclusiveMaximum" in schema:
            high = schema["exclusiveMaximum"] - step
        return low, high

    def _integer(self, schema: dict[str, Any], path: str, given: Any) -> int:
        low, high = self._bounds(schema, 1)
        low = int(low) if low is not None else (0 if high is None or high >= 0 else int(high) - 100)
        high = int(high) if high is not None else low + 100
        if isinstance(given, (int, float, Decimal)) and not isinstance(given, bool):
            value = min(max(int(given), low), high)
        else:
            value = low + self._pick(path, high - low + 1)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = min(max(value - value % step, low + (-low) % step), high)
        return value

    def _number(self, schema: dict[str, Any], path: str, given: Any) -> float:
        low, high = self._bounds(schema, 1e-6)
        low = float(low) if low is not None else 0.0
        high = float(high) if high is not None else low + 100.0
        if isinstance(given, (int, float, Decimal)) and not isinstance(given, bool):
            return min(max(float(given), low), high)
        value = low + (high - low) * self._pick(path, 1001) / 1000
        return min(max(round(value, 2), low), high)

    def _string(self, schema: dict[str, Any], name: str, path: str, given: Any) -> str:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
        value = self._formatted(schema.get("format"), path)
        if value is None and _scalar(given) and not isinstance(given, bool):
            value = str(given)
        if value is None or (pattern and not pattern.search(value)):
            value = self._matching(pattern) if pattern else None
        if value is None:
            value = self._compose(name, path)
        value = value.ljust(low, ".")
        if high is not None and len(value) > high:
            cut = value[:high - 1]
            value = (cut.rsplit(" ", 1)[0] if " " in cut[len(OFFLINE_MARK) + 1:] else cut) + "…"
        return value

    def _formatted(self, fmt: str | None, path: str) -> str | None:
        if fmt == "email":
            found = next((str(v) for _, v in self.leaves if isinstance(v, str) and _EMAIL.match(v)), None)
            return found or "offline@example.invalid"
        if fmt == "date":
            return _FIXED_DATE
        if fmt == "date-time":
            return f"{_FIXED_DATE}T00:00:00Z"
        if fmt in ("uri", "url"):
            return "https://example.invalid/offline"
        if fmt == "uuid":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}:{path}"))
        return None

    def _matching(self, pattern: re.Pattern[str]) -> str | None:
        return next((str(v) for _, v in self.leaves if pattern.search(str(v))), None)

    def _compose(self, name: str, path: str) -> str:
        title = name.replace("_", " ").strip().capitalize() or "Answer"
        item = re.search(r"\[(\d+)\]$", path)
        if item is not None:
            # One item of a list: each item states a different input, so a list of reasons reads as one.
            index = int(item.group(1))
            if not self.leaves:
                return f"{OFFLINE_MARK} {title} {index + 1}"
            key, value = self.leaves[index % len(self.leaves)]
            return f"{OFFLINE_MARK} {title} {index + 1}: {key} is {value}"
        facts = "; ".join(f"{key}: {value}" for key, value in self.leaves)
        if len(facts) > _FACTS_LIMIT:
            facts = facts[:_FACTS_LIMIT - 1] + "…"
        return f"{OFFLINE_MARK} {title}, rule-based (no model was called)" + (f", from {facts}" if facts else "")
