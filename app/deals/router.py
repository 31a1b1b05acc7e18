import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.deals import service
from app.deals.schemas import DealOut, DealPage
from app.deals.state import DealStage

router = APIRouter(prefix="/deals", tags=["deals"])


@router.get("", response_model=DealPage)
def list_deals(
    session: DbSession,
    ctx: Authorized[Permission.read],
    stage: DealStage | None = None,
    lead_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DealPage:
    items, next_cursor = service.list_deals(session, ctx, limit=limit, cursor=cursor, stage=stage, lead_id=lead_id)
    return DealPage(items=items, next_cursor=next_cursor)


@router.get("/{deal_id}", response_model=DealOut)
def read_deal(deal_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> DealOut:
    return service.read_deal(session, ctx, deal_id)
