"""The sections of a tenant's settings and their schemas. A package that reads a section registers its
schema (`register_section("icp", IcpSettings)` in the SDR agent, `reviews` in app/reviews), so that
PATCH /api/v1/tenant refuses a bad section with a 422 naming the field, instead of a run failing later.
Sections nobody registered are kept as they are."""

from typing import Any

from pydantic import BaseModel, ValidationError

from app.agents.registry import load_installed
from app.core.errors import UnprocessableEntity

_SECTIONS: dict[str, type[BaseModel]] = {}


def register_section(name: str, model: type[BaseModel]) -> type[BaseModel]:
    if _SECTIONS.get(name, model) is not model:
        raise ValueError(f"settings section {name!r} is registered twice")
    _SECTIONS[name] = model
    return model


def validate_sections(settings: dict[str, Any], changed: set[str]) -> None:
    """Check every changed section that has a schema; raise one 422 listing every bad field."""
    load_installed()
    errors = []
    for name in sorted(changed & _SECTIONS.keys()):
        if settings.get(name) is None:
            continue
        try:
            _SECTIONS[name].model_validate(settings[name])
        except ValidationError as exc:
            errors += [{"field": ".".join(["settings", name, *(str(part) for part in e["loc"])]),
                        "message": e["msg"], "type": e["type"]} for e in exc.errors()]
    if errors:
        raise UnprocessableEntity("Some settings do not match their section's schema; nothing was changed.",
                                  errors=errors)
