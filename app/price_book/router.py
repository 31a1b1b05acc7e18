import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.price_book import service
from app.price_book.schemas import PriceBookItemCreate, PriceBookItemOut, PriceBookItemPatch, PriceBookPage

router = APIRouter(prefix="/price-book", tags=["price book"])


@router.get("", response_model=PriceBookPage)
def list_items(
    session: DbSession,
    ctx: Authorized[Permission.read],
    active: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PriceBookPage:
    items, next_cursor = service.list_items(session, ctx, limit=limit, cursor=cursor, active=active)
    return PriceBookPage(items=items, next_cursor=next_cursor)


@router.post("", response_model=PriceBookItemOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "The code is taken in the tenant"}})
def create_item(body: PriceBookItemCreate, session: DbSession,
                ctx: Authorized[Permission.write_data]) -> PriceBookItemOut:
    return service.create_item(session, ctx, body)


@router.get("/{item_id}", response_model=PriceBookItemOut)
def read_item(item_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> PriceBookItemOut:
    return service.read_item(session, ctx, item_id)


@router.patch("/{item_id}", response_model=PriceBookItemOut,
              responses={409: {"description": "The new code is taken in the tenant"}})
def update_item(item_id: uuid.UUID, body: PriceBookItemPatch, session: DbSession,
                ctx: CurrentContext) -> PriceBookItemOut:
    return service.update_item(session, ctx, item_id, body)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    service.delete_item(session, ctx, item_id)
