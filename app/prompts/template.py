"""Prompt templates: text with `{{ name }}` and `{{ name.field }}` placeholders, and nothing else.

No expressions, loops or filters: tenants write templates through the API, and a template language that
can call code is a server-side template injection waiting to happen. Agents prepare their values in
Python; the template only places them. A string value is inserted as is; anything else (numbers,
dicts, lists, Pydantic models) as indented JSON, which models read well.

Rendering fails loudly: a placeholder without a value raises `MissingVariable`, never renders empty.
"""

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
_OPENING = re.compile(r"\{\{")


class TemplateError(ValueError):
    """The template text itself is malformed."""


class MissingVariable(KeyError):
    def __init__(self, path: str, available: list[str]):
        super().__init__(path)
        self.path = path
        self.message = (f"the prompt needs '{path}', which was not provided "
                        f"(given: {', '.join(available) or 'nothing'})")

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Template:
    text: str
    # The text split at placeholders: literal, path, literal, path, …, literal.
    parts: tuple[str, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return self.parts[1::2]

    @property
    def variables(self) -> frozenset[str]:
        """Top-level names the template reads (`lead` for `{{ lead.name }}`)."""
        return frozenset(path.split(".", 1)[0] for path in self.paths)

    def render(self, variables: dict[str, Any]) -> str:
        out: list[str] = []
        for index, part in enumerate(self.parts):
            out.append(part if index % 2 == 0 else _format(_lookup(variables, part)))
        return "".join(out)


@lru_cache(maxsize=1024)
def parse(text: str) -> Template:
    parts = tuple(PLACEHOLDER.split(text))
    for literal in parts[::2]:
        if _OPENING.search(literal):
            snippet = literal[literal.index("{{"):][:40]
            raise TemplateError(f"'{snippet}' is not a placeholder: use {{{{ name }}}} or {{{{ name.field }}}}")
    return Template(text, parts)


def _lookup(variables: dict[str, Any], path: str) -> Any:
    value: Any = variables
    for name in path.split("."):
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        if not isinstance(value, dict) or name not in value:
            raise MissingVariable(path, sorted(variables))
        value = value[name]
    return value


def _format(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable_python(value), indent=2, ensure_ascii=False, sort_keys=False)
