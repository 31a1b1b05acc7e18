import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.reviews import service
from app.reviews.registry import kinds
from app.reviews.schemas import DecisionOut, DecisionRequest, ReviewKindOut, ReviewOut, ReviewPage
from app.reviews.state import ReviewStatus

router = APIRouter(tags=["reviews"])


def _out(review, decision) -> ReviewOut:
    out = ReviewOut.model_validate(review)
    out.decision = DecisionOut.model_validate(decision) if decision is not None else None
    return out


@router.get("/reviews", response_model=ReviewPage)
def list_reviews(
    session: DbSession,
    ctx: Authorized[Permission.read],
    entity_type: str | None = None,
    status: ReviewStatus | None = None,
    agent: str | None = None,
    pipeline_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReviewPage:
    """Open items (pending, escalated) first, then the newest."""
    reviews, next_cursor = service.list_reviews(session, ctx, limit=limit, cursor=cursor, entity_type=entity_type,
                                                status=status, agent=agent, pipeline_id=pipeline_id)
    decisions = service.decisions_of(session, reviews)
    return ReviewPage(items=[_out(r, decisions.get(r.id)) for r in reviews], next_cursor=next_cursor)


@router.get("/reviews/kinds", response_model=list[ReviewKindOut])
def list_kinds(ctx: Authorized[Permission.read]) -> list[ReviewKindOut]:
    """The review types (`entity_type`) and what a reviewer may edit in each."""
    return [ReviewKindOut(entity_type=kind.entity_type, editable_fields=kind.editable_fields,
                          locked_fields=sorted(kind.locked_fields), edit_schema=kind.content_model.model_json_schema())
            for kind in kinds()]


@router.get("/reviews/{entity_type}/{entity_id}", response_model=ReviewOut)
def get_review(entity_type: str, entity_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> ReviewOut:
    review = service.get_review(session, ctx, entity_type, entity_id)
    return _out(review, service.decision_of(session, review))


@router.post("/reviews/{entity_type}/{entity_id}/decision", response_model=ReviewOut,
             responses={409: {"description": "Already decided otherwise, expired or cancelled"},
                        403: {"description": "Not a reviewer, an escalated item for a non-admin, or four eyes"}})
def decide(entity_type: str, entity_id: uuid.UUID, body: DecisionRequest, session: DbSession,
           ctx: CurrentContext) -> JSONResponse:
    """Approve, edit or reject. The reviewer is taken from the credentials. The same decision posted again
    returns the first one (200, `Idempotent-Replayed: true`); a different one is 409."""
    review, decision, made = service.decide(session, ctx, entity_type, entity_id, body)
    payload = _out(review, decision).model_dump(mode="json")
    session.commit()
    return JSONResponse(payload, headers={} if made else {"Idempotent-Replayed": "true"})
