"""`Idempotency-Key` for POSTs that create work.

Same key and body: the stored response, replayed. Same key, other body: 422. Same key while the first
request is still in flight: 409. The first request holds a transaction-scoped advisory lock on
(tenant, scope, key) and stores its response in the same transaction that creates the work, so the
record and the work commit together or not at all, and a crash leaves nothing half-done behind.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.core.errors import BadRequest, Conflict, UnprocessableEntity
from app.core.failpoints import failpoint
from app.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotentResponse:
    status: int
    body: dict[str, Any]
    replayed: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return {"Idempotent-Replayed": "true"} if self.replayed else {}


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _lock_id(ctx: TenantContext, scope: str, key: str) -> int:
    digest = hashlib.sha256(f"{ctx.tenant_id}:{scope}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


Produced = tuple[int, dict[str, Any]] | IdempotentResponse


def _response(produced: Produced) -> IdempotentResponse:
    return produced if isinstance(produced, IdempotentResponse) else IdempotentResponse(*produced)


def run_idempotently(session: Session, ctx: TenantContext, *, key: str | None, scope: str, body: Any,
                     produce: Callable[[], Produced]) -> IdempotentResponse:
    """`produce` makes the response (status, body); it may itself recognise a repeat whose record has
    expired (the work keeps the key longer) and answer with a replayed IdempotentResponse."""
    if key is None:
        return _response(produce())
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
    if not session.scalar(select(func.pg_try_advisory_xact_lock(_lock_id(ctx, scope, key)))):
        raise Conflict("A request with this Idempotency-Key is still being processed; retry it shortly.")
    failpoint("idempotency.locked")
    fingerprint = _fingerprint(body)
    stored = session.get(IdempotencyRecord, (key, scope, ctx.tenant_id))
    if stored is not None:
        if stored.request_hash != fingerprint:
            raise UnprocessableEntity("This Idempotency-Key was already used with a different request body.")
        return IdempotentResponse(stored.response_status, stored.response_body, replayed=True)
    response = _response(produce())
    session.add(IdempotencyRecord(key=key, scope=scope, tenant_id=ctx.tenant_id, request_hash=fingerprint,
                                  response_status=response.status, response_body=response.body))
    session.flush()
    return response
