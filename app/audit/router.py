import re
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEntry, AuditPage
from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.core.errors import BadRequest

router = APIRouter(tags=["audit"])

# An entry id: ASCII digits that fit a bigint. str.isdigit() also accepts '²' (int() then fails) and
# numbers past the bigint range, which the database refuses: both were 500s.
_CURSOR = re.compile(r"[0-9]{1,18}")


@router.get("/audit-log", response_model=AuditPage)
def read_audit_log(
    session: DbSession,
    ctx: Authorized[Permission.read_audit_log],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    entity_type: str | None = None,
    action: str | None = None,
) -> AuditPage:
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise BadRequest("cursor is not valid; pass the next_cursor of a previous page.")
    entries = service.list_entries(session, ctx, limit=limit + 1, before_id=int(cursor) if cursor else None,
                                   entity_type=entity_type, action=action)
    page = entries[:limit]
    next_cursor = str(page[-1].id) if len(entries) > limit else None
    return AuditPage(items=[AuditEntry.model_validate(e) for e in page], next_cursor=next_cursor)
