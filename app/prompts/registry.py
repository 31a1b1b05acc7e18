"""The prompts shipped with the code: one file per key and version, reviewed like code.

    app/prompts/defaults/<key>.v<N>.md

    ---
    description: One line saying what the prompt is for.
    ---
    === system ===
    You are …
    === user ===
    Lead: {{ lead }}

A changed default is a new file (`.v2.md`) next to the old one, never an edit of a released version:
llm_logs rows name the version they used, and that text must stay readable. The newest default of a key
defines the variables its callers pass, so tenant versions may use those and no others.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from app.prompts.template import Template, parse

DEFAULTS_DIR = Path(__file__).parent / "defaults"
KEY_PATTERN = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*"
_FILE_NAME = re.compile(rf"^(?P<key>{KEY_PATTERN})\.v(?P<version>[1-9][0-9]*)\.md$")
_FRONT_MATTER = re.compile(r"\A---\n(?P<meta>.*?)\n---\n", re.DOTALL)
_SECTION = re.compile(r"^=== (system|user) ===$", re.MULTILINE)

Source = Literal["default", "tenant"]


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str


@dataclass(frozen=True)
class Prompt:
    """One version of a prompt, shipped or a tenant's."""

    key: str
    version: int
    source: Source
    description: str
    system: Template
    user: Template
    created_at: datetime | None = None

    @property
    def variables(self) -> frozenset[str]:
        return self.system.variables | self.user.variables

    def render(self, variables: dict[str, Any]) -> RenderedPrompt:
        return RenderedPrompt(self.system.render(variables), self.user.render(variables))


class PromptFileError(ValueError):
    pass


def parse_prompt_file(path: Path) -> Prompt:
    match = _FILE_NAME.match(path.name)
    if match is None:
        raise PromptFileError(f"{path.name}: prompt files are named <key>.v<N>.md")
    text = path.read_text(encoding="utf-8")
    front = _FRONT_MATTER.match(text)
    if front is None:
        raise PromptFileError(f"{path.name}: missing the front matter (---, description: …, ---)")
    meta = dict(line.split(":", 1) for line in front.group("meta").splitlines() if ":" in line)
    description = meta.get("description", "").strip()
    if not description:
        raise PromptFileError(f"{path.name}: the front matter has no description")
    pieces = _SECTION.split(text[front.end():])
    # pieces: [preamble, "system", body, "user", body]
    if len(pieces) != 5 or pieces[1] != "system" or pieces[3] != "user" or pieces[0].strip():
        raise PromptFileError(f"{path.name}: expected a '=== system ===' section followed by '=== user ==='")
    try:
        system, user = parse(pieces[2].strip("\n")), parse(pieces[4].strip("\n"))
    except ValueError as exc:
        raise PromptFileError(f"{path.name}: {exc}") from exc
    return Prompt(match["key"], int(match["version"]), "default", description, system, user)


class DefaultPrompts:
    def __init__(self, directory: Path):
        by_key: dict[str, dict[int, Prompt]] = {}
        for path in sorted(directory.glob("*.md")):
            prompt = parse_prompt_file(path)
            by_key.setdefault(prompt.key, {})[prompt.version] = prompt
        for key, versions in by_key.items():
            if sorted(versions) != list(range(1, len(versions) + 1)):
                raise PromptFileError(f"{key}: default versions must be numbered 1, 2, 3… without gaps")
        self._by_key = {key: [versions[n] for n in sorted(versions)] for key, versions in sorted(by_key.items())}

    def keys(self) -> list[str]:
        return list(self._by_key)

    def versions(self, key: str) -> list[Prompt]:
        return list(self._by_key.get(key, ()))

    def latest(self, key: str) -> Prompt | None:
        versions = self._by_key.get(key)
        return versions[-1] if versions else None

    def get(self, key: str, version: int) -> Prompt | None:
        versions = self._by_key.get(key, ())
        return versions[version - 1] if 1 <= version <= len(versions) else None


@lru_cache
def default_prompts() -> DefaultPrompts:
    return DefaultPrompts(DEFAULTS_DIR)
