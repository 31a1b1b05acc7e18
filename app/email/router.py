import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.email import service
from app.email.schemas import EmailOut, EmailPage
from app.email.state import EmailStatus

router = APIRouter(tags=["email"])


@router.get("/emails", response_model=EmailPage)
def list_emails(
    session: DbSession,
    ctx: Authorized[Permission.read],
    status: EmailStatus | None = None,
    lead_id: uuid.UUID | None = None,
    pipeline_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EmailPage:
    """Every email drafted or sent, newest first."""
    emails, next_cursor = service.list_emails(session, ctx, limit=limit, cursor=cursor, status=status,
                                              lead_id=lead_id, pipeline_id=pipeline_id)
    return EmailPage(items=[EmailOut.model_validate(email) for email in emails], next_cursor=next_cursor)


@router.get("/emails/{email_id}", response_model=EmailOut)
def read_email(email_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> EmailOut:
    return EmailOut.model_validate(service.get_email(session, ctx, email_id))
