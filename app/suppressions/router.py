import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.suppressions import service
from app.suppressions.schemas import SuppressionCreate, SuppressionKind, SuppressionOut, SuppressionPage

router = APIRouter(prefix="/suppressions", tags=["suppressions"])


@router.get("", response_model=SuppressionPage)
def list_suppressions(
    session: DbSession,
    ctx: Authorized[Permission.read],
    kind: SuppressionKind | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=320, description="Part of the address or domain")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SuppressionPage:
    items, next_cursor = service.list_suppressions(session, ctx, limit=limit, cursor=cursor, kind=kind, q=q)
    return SuppressionPage(items=items, next_cursor=next_cursor)


@router.post("", response_model=SuppressionOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "The address or domain is already on the list"}})
def create_suppression(body: SuppressionCreate, session: DbSession,
                       ctx: Authorized[Permission.write_data]) -> SuppressionOut:
    return service.create_suppression(session, ctx, body)


@router.delete("/{suppression_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_suppression(suppression_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    service.delete_suppression(session, ctx, suppression_id)
