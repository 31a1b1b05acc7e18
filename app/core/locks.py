"""Session-level advisory locks that keep one piece of outside work (an email's send, a webhook's POST) to one
worker at a time, across processes, for as long as the work takes (longer than any transaction).

The key is a 64-bit hash of a name: `work_lock("email.send", id)` and the transaction-scoped
`try_lock_for_transaction(session, "email.send", id)` take the same lock."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.db import get_engine

_KEY = "hashtextextended(:scope || ':' || :key, 0)"
_LOCK = text(f"SELECT pg_try_advisory_lock({_KEY})")
_UNLOCK = text(f"SELECT pg_advisory_unlock({_KEY})")
_LOCK_FOR_TRANSACTION = text(f"SELECT pg_try_advisory_xact_lock({_KEY})")


@contextmanager
def work_lock(scope: str, key: object) -> Iterator[bool]:
    """Yields whether the lock was taken (False: another worker holds it). Held on a pooled connection of
    its own and released before that connection goes back (or, if that fails, with the connection)."""
    params = {"scope": scope, "key": str(key)}
    with get_engine().connect() as connection:
        held = bool(connection.execute(_LOCK, params).scalar_one())
        connection.commit()
        try:
            yield held
        finally:
            if held:
                try:
                    connection.execute(_UNLOCK, params)
                    connection.commit()
                except Exception:
                    connection.invalidate()  # closing the database session releases its locks


def try_lock_for_transaction(session: Session, scope: str, key: object) -> bool:
    """The same lock for the rest of `session`'s transaction, if nobody holds it now."""
    return bool(session.execute(_LOCK_FOR_TRANSACTION, {"scope": scope, "key": str(key)}).scalar_one())
