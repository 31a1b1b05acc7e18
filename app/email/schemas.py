import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.email.state import EmailStatus

SUBJECT_MAX = 300
BODY_MAX = 50_000


class EmailContent(BaseModel):
    """What a reviewer sees and may edit in an `email` review. `to_address` is locked: an edit may not
    send the email somewhere else."""

    model_config = ConfigDict(extra="forbid")

    to_address: str = Field(max_length=320, description="Locked: the lead's address, as drafted")
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, subject: str) -> str:
        if "\r" in subject or "\n" in subject:
            raise ValueError("the subject is one line")
        if not subject.strip():
            raise ValueError("the subject is empty")
        return subject


class EmailOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: EmailStatus
    lead_id: uuid.UUID | None
    run_id: uuid.UUID | None
    review_id: uuid.UUID | None
    pipeline_id: uuid.UUID | None
    to_address: str
    subject: str
    body: str
    citations: list[Any]
    message_id: str = Field(description="Fixed when the draft is made; every send attempt uses it")
    transport: str | None = Field(description="smtp or file, once sent")
    sent_at: datetime | None
    send_attempts: int
    error: str | None = Field(description="Why it was not sent: the server's refusal, the suppression, the rejection")
    created_at: datetime
    updated_at: datetime


class EmailPage(BaseModel):
    items: list[EmailOut]
    next_cursor: str | None
