"""Keyset cursors on (created_at, id): opaque to clients, one index range scan per page for us."""

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_

from app.core.errors import BadRequest

Key = TypeVar("Key", uuid.UUID, int)
Query = TypeVar("Query", bound=Select[Any])


def encode_cursor(created_at: datetime, key: uuid.UUID | int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{key}".encode()).decode()


def decode_cursor(cursor: str, key_type: type[Key]) -> tuple[datetime, Key]:
    try:
        stamp, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(stamp), key_type(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor is not valid; pass the next_cursor of a previous page.") from None


def newest_first(query: Query, model: Any, limit: int, cursor: str | None) -> Query:
    """`query` newest first on `model`'s (created_at, id), after `cursor`, reading one row more than a page:
    that row says whether another page follows (`next_cursor`)."""
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(tuple_(model.created_at, model.id) < decode_cursor(cursor, uuid.UUID))
    return query


def next_cursor(rows: Sequence[Any], limit: int) -> str | None:
    """The cursor after the first `limit` of `rows`, read with one more (`newest_first`); None on the last
    page. A row is an entity with created_at and id, or a result row that starts with one."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    if not hasattr(last, "created_at"):
        last = last[0]
    return encode_cursor(last.created_at, last.id)
