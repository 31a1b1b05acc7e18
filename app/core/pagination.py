"""Keyset cursors on (created_at, id): opaque to clients, one index range scan per page for us."""

import base64
import binascii
import uuid
from datetime import datetime
from typing import TypeVar

from app.core.errors import BadRequest

Key = TypeVar("Key", uuid.UUID, int)


def encode_cursor(created_at: datetime, key: uuid.UUID | int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{key}".encode()).decode()


def decode_cursor(cursor: str, key_type: type[Key]) -> tuple[datetime, Key]:
    try:
        stamp, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(stamp), key_type(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor is not valid; pass the next_cursor of a previous page.") from None
