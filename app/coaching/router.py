"""Coaching over HTTP: a client's check-ins and plan, the coaching cards, and the plan changes (read-only:
they are decided as `plan_change` reviews, through /api/v1/reviews)."""

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response, status

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.coaching import service
from app.coaching.schemas import (
    CardPatch,
    CardSeverity,
    CheckInIn,
    CheckInOut,
    CheckInPage,
    CoachingCardOut,
    CoachingCardPage,
    ImportResult,
    PlanChangeOut,
    PlanOut,
    PlanPut,
    PlanVersions,
)
from app.coaching.state import CardStatus

router = APIRouter(tags=["coaching"])

CHECK_INS = "/clients/{client_id}/check-ins"
PLAN = "/clients/{client_id}/plan"


@router.get(CHECK_INS, response_model=CheckInPage)
def list_check_ins(
    client_id: uuid.UUID,
    session: DbSession,
    ctx: Authorized[Permission.read],
    first_day: Annotated[date | None, Query(alias="from", description="The first day (client-local), included")] = None,
    last_day: Annotated[date | None, Query(alias="to", description="The last day (client-local), included")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=366)] = 50,
) -> CheckInPage:
    """The client's check-ins, the newest day first."""
    items, next_cursor = service.list_check_ins(session, ctx, client_id, limit=limit, cursor=cursor,
                                                first_day=first_day, last_day=last_day)
    return CheckInPage(items=items, next_cursor=next_cursor)


@router.post(CHECK_INS, response_model=CheckInOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "The day had a check-in: it was updated with the fields sent",
                              "model": CheckInOut},
                        422: {"description": "A value out of range, or a day that has not begun for the client"}})
def write_check_in(client_id: uuid.UUID, body: CheckInIn, response: Response, session: DbSession,
                   ctx: CurrentContext) -> CheckInOut:
    """The check-in of one client-local day: 201 when it is the day's first, 200 when it updates the day's
    check-in (only the fields sent change; null clears one)."""
    check_in, created = service.write_check_in(session, ctx, client_id, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return check_in


@router.post(f"{CHECK_INS}/import", response_model=ImportResult,
             responses={422: {"description": "No rows, or more than an import takes"}})
def import_check_ins(
    client_id: uuid.UUID,
    rows: Annotated[list[Any], Body(description=(
        f"A JSON array of check-ins (as POST …/check-ins takes them), at most {service.MAX_IMPORT_ROWS}"))],
    session: DbSession,
    ctx: CurrentContext,
) -> ImportResult:
    """A client's history, one check-in a row, each written as POST …/check-ins writes one. Each row is
    reported (created, updated, unchanged, invalid with its errors); an invalid row changes nothing, the
    other rows are kept."""
    return service.import_check_ins(session, ctx, client_id, rows)


def _etag(plan: PlanOut, response: Response) -> PlanOut:
    response.headers["ETag"] = f'"{plan.current_version}"'
    return plan


@router.get(PLAN, response_model=PlanOut, responses={404: {"description": "No such client, or no plan yet"}})
def read_plan(client_id: uuid.UUID, response: Response, session: DbSession,
              ctx: Authorized[Permission.read]) -> PlanOut:
    """The client's plan at its current version; the ETag is that version, for `If-Match` on PUT."""
    return _etag(service.read_plan(session, ctx, client_id), response)


@router.put(PLAN, response_model=PlanOut,
            responses={409: {"description": "The plan has moved on since base_version / If-Match"},
                       428: {"description": "The plan exists and neither base_version nor If-Match was sent"}})
def put_plan(client_id: uuid.UUID, body: PlanPut, response: Response, session: DbSession, ctx: CurrentContext,
             if_match: Annotated[str | None, Header(alias="If-Match", max_length=64)] = None) -> PlanOut:
    """Write the plan by hand: version 1 for a client with no plan, else the next version, made from
    `base_version` (or `If-Match`). The same content as the current version writes nothing."""
    plan = service.put_plan(session, ctx, client_id, body, if_match)
    return _etag(plan, response)


@router.get(f"{PLAN}/versions", response_model=PlanVersions)
def list_plan_versions(client_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> PlanVersions:
    return service.list_plan_versions(session, ctx, client_id)


@router.get("/plan-changes/{change_id}", response_model=PlanChangeOut)
def read_plan_change(change_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> PlanChangeOut:
    """A plan change the coaching agent proposed, with its review; decide it through /api/v1/reviews."""
    return service.read_plan_change(session, ctx, change_id)


@router.get("/coaching-cards", response_model=CoachingCardPage)
def list_cards(
    session: DbSession,
    ctx: Authorized[Permission.read],
    client_id: uuid.UUID | None = None,
    status_: Annotated[CardStatus | None, Query(alias="status")] = None,
    severity: CardSeverity | None = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="ISO week, 2026-W07")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CoachingCardPage:
    """Newest first."""
    items, next_cursor = service.list_cards(session, ctx, limit=limit, cursor=cursor, client_id=client_id,
                                            status=status_, severity=severity, kind=kind, week=week)
    return CoachingCardPage(items=items, next_cursor=next_cursor)


@router.get("/coaching-cards/{card_id}", response_model=CoachingCardOut)
def read_card(card_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> CoachingCardOut:
    return service.read_card(session, ctx, card_id)


@router.patch("/coaching-cards/{card_id}", response_model=CoachingCardOut,
              responses={409: {"description": "The card is done or dismissed already"}})
def change_card_status(card_id: uuid.UUID, body: CardPatch, session: DbSession, ctx: CurrentContext) -> CoachingCardOut:
    """Close a card: `done` (the coach acted on it) or `dismissed`. Reviewers and up."""
    return service.change_card_status(session, ctx, card_id, CardStatus(body.status))
