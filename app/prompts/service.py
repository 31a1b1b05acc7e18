"""Prompt versions per tenant: shipped defaults, the tenant's own versions, and which one is active.

A version is a source and a number: `default` versions are the files in app/prompts/defaults, `tenant`
versions are rows of prompt_versions numbered 1, 2, 3… per tenant and key. PUT makes a tenant version and
activates it; activate moves the pointer (prompt_activations) to any version, back or forward. A tenant
without a pointer follows the newest shipped default.
"""

import uuid
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.core.context import TenantContext
from app.core.errors import Conflict, NotFound, UnprocessableEntity
from app.models import PromptActivation, PromptVersion
from app.prompts.registry import Prompt, Source, default_prompts
from app.prompts.schemas import ActivateIn, ActivePrompt, PromptDetail, PromptSummary, PromptVersionIn, PromptVersionOut
from app.prompts.template import TemplateError, parse


class UnknownPrompt(NotFound):
    title = "Prompt not found"


def _defaults_of(key: str) -> list[Prompt]:
    versions = default_prompts().versions(key)
    if not versions:
        known = ", ".join(default_prompts().keys())
        raise UnknownPrompt(f"There is no prompt '{key}'. Known prompts: {known}.")
    return versions


def _tenant_prompt(row: PromptVersion) -> Prompt:
    return Prompt(row.key, row.version, "tenant", row.description, parse(row.system_template),
                  parse(row.user_template), row.created_at)


def pointer_query(tenant_id: Any, key: Any) -> Select:
    """The tenant's pointer for `key` and, when it points at a tenant version, that version's text: at most one
    row. Callers that need more in the same round trip join it (app.llm.orchestrator); both arguments may
    be values or bind parameters."""
    return (
        select(PromptActivation.source, PromptActivation.version, PromptVersion.system_template,
               PromptVersion.user_template, PromptVersion.description, PromptVersion.created_at)
        .outerjoin(PromptVersion, (PromptVersion.tenant_id == PromptActivation.tenant_id)
                   & (PromptVersion.key == PromptActivation.key)
                   & (PromptVersion.version == PromptActivation.version)
                   & (PromptActivation.source == "tenant"))
        .where(PromptActivation.tenant_id == tenant_id, PromptActivation.key == key)
    )


# `pointer_query` as SQL text, for the one-round-trip scripts of app.core.db (the model-call path joins it
# into its read): parameters %(tenant_id)s and %(prompt_key)s, the same columns. Keep the two in step.
POINTER_SQL = """
SELECT pointer.source, pointer.version, saved.system_template, saved.user_template, saved.description,
       saved.created_at
  FROM prompt_activations AS pointer
  LEFT JOIN prompt_versions AS saved
    ON saved.tenant_id = pointer.tenant_id AND saved.key = pointer.key AND saved.version = pointer.version
   AND pointer.source = 'tenant'
 WHERE pointer.tenant_id = %(tenant_id)s::uuid AND pointer.key = %(prompt_key)s"""


def prompt_from_pointer(key: str, pointer: Any) -> Prompt:
    """The Prompt a row of `pointer_query` designates; a missing row or a NULL source: the newest default."""
    defaults = _defaults_of(key)
    if pointer is None or pointer.source is None or (pointer.source == "default" and pointer.version is None):
        return defaults[-1]
    if pointer.source == "default":
        return defaults[pointer.version - 1]
    return Prompt(key, pointer.version, "tenant", pointer.description, parse(pointer.system_template),
                  parse(pointer.user_template), pointer.created_at)


def resolve(session: Session, tenant_id: uuid.UUID, key: str) -> Prompt:
    """The version of `key` the tenant uses now."""
    _defaults_of(key)
    return prompt_from_pointer(key, session.execute(pointer_query(tenant_id, key)).one_or_none())


def _active_of(key: str, activation: PromptActivation | None) -> ActivePrompt:
    if activation is None or (activation.source == "default" and activation.version is None):
        return ActivePrompt(source="default", version=len(_defaults_of(key)), follows_latest_default=True)
    return ActivePrompt(source=activation.source, version=activation.version, follows_latest_default=False)  # type: ignore[arg-type]


def list_prompts(session: Session, ctx: TenantContext) -> list[PromptSummary]:
    activations = {a.key: a for a in session.scalars(
        select(PromptActivation).where(PromptActivation.tenant_id == ctx.tenant_id))}
    counts = dict(session.execute(
        select(PromptVersion.key, func.count()).where(PromptVersion.tenant_id == ctx.tenant_id)
        .group_by(PromptVersion.key)).all())
    summaries = []
    for key in default_prompts().keys():
        latest = default_prompts().latest(key)
        assert latest is not None
        summaries.append(PromptSummary(
            key=key, description=latest.description, variables=sorted(latest.variables),
            active=_active_of(key, activations.get(key)), default_versions=latest.version,
            tenant_versions=counts.get(key, 0),
        ))
    return summaries


def get_prompt(session: Session, ctx: TenantContext, key: str) -> PromptDetail:
    defaults = _defaults_of(key)
    # populate_existing: after an activation in this session, the identity map may hold the old pointer.
    activation = session.scalars(
        select(PromptActivation).where(PromptActivation.tenant_id == ctx.tenant_id, PromptActivation.key == key)
        .execution_options(populate_existing=True)).one_or_none()
    rows = list(session.scalars(
        select(PromptVersion).where(PromptVersion.tenant_id == ctx.tenant_id, PromptVersion.key == key)
        .order_by(PromptVersion.version)))
    active = _active_of(key, activation)

    def out(prompt: Prompt, created_by_id: uuid.UUID | None = None) -> PromptVersionOut:
        return PromptVersionOut(
            version=prompt.version, source=prompt.source, description=prompt.description, system=prompt.system.text,
            user=prompt.user.text, variables=sorted(prompt.variables),
            active=(prompt.source, prompt.version) == (active.source, active.version),
            created_at=prompt.created_at, created_by_id=created_by_id,
        )

    latest = defaults[-1]
    return PromptDetail(
        key=key, description=latest.description, variables=sorted(latest.variables), active=active,
        default_versions=len(defaults), tenant_versions=len(rows),
        versions=[out(p) for p in defaults] + [out(_tenant_prompt(r), r.created_by_id) for r in rows],
    )


def _check_templates(key: str, body: PromptVersionIn) -> None:
    allowed = default_prompts().latest(key).variables  # type: ignore[union-attr]
    errors = []
    for field in ("system", "user"):
        try:
            template = parse(getattr(body, field))
        except TemplateError as exc:
            errors.append({"field": field, "message": str(exc), "type": "template_syntax"})
            continue
        for name in sorted(template.variables - allowed):
            errors.append({"field": field, "type": "unknown_variable",
                           "message": f"'{name}' is not a variable of '{key}' (available: {', '.join(sorted(allowed))})"})
    if errors:
        raise UnprocessableEntity(f"The template of '{key}' is not valid.", errors=errors)


def create_version(session: Session, ctx: TenantContext, key: str, body: PromptVersionIn) -> PromptDetail:
    """A new tenant version of `key`, active at once (GET after PUT returns what was put)."""
    _defaults_of(key)
    _check_templates(key, body)
    current = session.scalar(select(func.max(PromptVersion.version))
                             .where(PromptVersion.tenant_id == ctx.tenant_id, PromptVersion.key == key))
    version = (current or 0) + 1
    try:
        with session.begin_nested():
            session.add(PromptVersion(
                tenant_id=ctx.tenant_id, key=key, version=version, system_template=body.system,
                user_template=body.user, description=body.description, created_by_type=ctx.principal.kind,
                created_by_id=ctx.principal.id,
            ))
    except IntegrityError as exc:
        raise Conflict(f"Another version of '{key}' was saved at the same time; reload and try again.") from exc
    before = _point(session, ctx, key, "tenant", version)
    audit.record(session, ctx, "prompt.version_create", "prompt", key, before=before,
                 after={"source": "tenant", "version": version, "description": body.description,
                        "system": body.system, "user": body.user})
    session.flush()
    return get_prompt(session, ctx, key)


def activate(session: Session, ctx: TenantContext, key: str, body: ActivateIn) -> PromptDetail:
    defaults = _defaults_of(key)
    if body.source == "default" and body.version is not None and body.version > len(defaults):
        raise UnprocessableEntity(f"'{key}' has no default version {body.version} (it has 1 to {len(defaults)}).")
    if body.source == "tenant":
        exists = session.scalar(select(PromptVersion.id).where(
            PromptVersion.tenant_id == ctx.tenant_id, PromptVersion.key == key, PromptVersion.version == body.version))
        if exists is None:
            raise UnprocessableEntity(f"'{key}' has no tenant version {body.version}.")
    before = _point(session, ctx, key, body.source, body.version)
    audit.record(session, ctx, "prompt.activate", "prompt", key, before=before,
                 after={"source": body.source, "version": body.version})
    session.flush()
    return get_prompt(session, ctx, key)


def _point(session: Session, ctx: TenantContext, key: str, source: Source, version: int | None) -> dict | None:
    """Point the tenant's `key` at (source, version); returns the previous pointer for the audit log. An
    upsert, so two first-time writers cannot collide on the missing row."""
    previous = session.execute(
        select(PromptActivation.source, PromptActivation.version)
        .where(PromptActivation.tenant_id == ctx.tenant_id, PromptActivation.key == key).with_for_update()
    ).one_or_none()
    values = {"source": source, "version": version, "updated_by_type": ctx.principal.kind,
              "updated_by_id": ctx.principal.id}
    session.execute(
        insert(PromptActivation).values(tenant_id=ctx.tenant_id, key=key, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "key"], set_={**values, "updated_at": func.now()})
    )
    return None if previous is None else {"source": previous.source, "version": previous.version}
