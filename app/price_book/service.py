"""The price book: the packages a tenant sells. The sales agent reads it through `active_items` and
`get_by_code`; the price of a deal is always copied from here, in code."""

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core import money
from app.core.context import TenantContext
from app.core.errors import Conflict
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import PriceBookItem
from app.price_book.schemas import PriceBookItemCreate, PriceBookItemOut, PriceBookItemPatch

_AUDITED = ("code", "name", "description", "currency", "list_price", "billing_period", "active")


def _audited(item: PriceBookItem) -> dict[str, Any]:
    return PriceBookItemOut.model_validate(item).model_dump(mode="json", include=set(_AUDITED))


def _duplicate(code: str) -> Conflict:
    return Conflict(f"A price book item with the code '{code}' already exists in this tenant.")


def active_items(session: Session, ctx: TenantContext) -> list[PriceBookItem]:
    """The packages on sale, by code."""
    return list(session.scalars(scoped(ctx, PriceBookItem).where(PriceBookItem.active).order_by(PriceBookItem.code)))


def get_by_code(session: Session, ctx: TenantContext, code: str) -> PriceBookItem | None:
    """The tenant's item with this code (any case), active or not."""
    return session.scalars(scoped(ctx, PriceBookItem).where(PriceBookItem.code == code.strip().lower())).one_or_none()


def get_item(session: Session, ctx: TenantContext, item_id: uuid.UUID, *, for_update: bool = False) -> PriceBookItem:
    return get_or_404(session, ctx, PriceBookItem, item_id, for_update=for_update, label="Price book item")


def read_item(session: Session, ctx: TenantContext, item_id: uuid.UUID) -> PriceBookItemOut:
    return PriceBookItemOut.model_validate(get_item(session, ctx, item_id))


def list_items(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
               active: bool | None) -> tuple[list[PriceBookItemOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = newest_first(scoped(ctx, PriceBookItem), PriceBookItem, limit, cursor)
    if active is not None:
        query = query.where(PriceBookItem.active == active)
    items = list(session.scalars(query))
    page = [PriceBookItemOut.model_validate(item) for item in items[:limit]]
    return page, next_cursor(items, limit)


def create_item(session: Session, ctx: TenantContext, body: PriceBookItemCreate) -> PriceBookItemOut:
    authorize(ctx, Permission.write_data)
    item = PriceBookItem(id=uuid.uuid4(), tenant_id=ctx.tenant_id, **body.model_dump())
    try:
        with session.begin_nested():
            session.add(item)
    except IntegrityError as exc:
        raise _duplicate(body.code) from exc
    out = PriceBookItemOut.model_validate(item)
    audit.record(session, ctx, "price_book_item.create", "price_book_item", item.id, after=_audited(item))
    session.flush()
    return out


def update_item(session: Session, ctx: TenantContext, item_id: uuid.UUID,
                patch: PriceBookItemPatch) -> PriceBookItemOut:
    item = get_item(session, ctx, item_id, for_update=True)
    authorize(ctx, Permission.write_data)
    changes = patch.changes()
    if "list_price" in changes or "currency" in changes:
        currency = changes.get("currency", item.currency)
        changes["list_price"] = money.checked(changes.get("list_price", item.list_price), currency, "list_price")
    before = _audited(item)
    try:
        with session.begin_nested():  # the changes are made inside: a refusal rolls them back with it
            for field, value in changes.items():
                setattr(item, field, value)
            session.flush()
    except IntegrityError as exc:
        raise _duplicate(changes["code"]) from exc
    after = _audited(item)
    if after != before:
        audit.record(session, ctx, "price_book_item.update", "price_book_item", item.id, before=before, after=after)
    return PriceBookItemOut.model_validate(item)


def delete_item(session: Session, ctx: TenantContext, item_id: uuid.UUID) -> None:
    """Deals keep their package code, price and currency; only their link to the item is cleared."""
    item = get_item(session, ctx, item_id, for_update=True)
    authorize(ctx, Permission.write_data)
    before = _audited(item)
    session.delete(item)
    session.flush()
    audit.record(session, ctx, "price_book_item.delete", "price_book_item", item_id, before=before)
