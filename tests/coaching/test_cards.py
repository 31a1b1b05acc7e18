"""Coaching cards: the agent records them once per run; the coach lists them with filters and closes them
(open → done | dismissed, app.coaching.state)."""

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.coaching import service
from app.coaching.state import CardStatus, IllegalCardTransition, transition_card
from app.core.context import TenantContext
from app.core.errors import UnprocessableEntity
from app.models import AuditLog, CoachingCard
from tests.builders import make_tenant
from tests.coaching.helpers import add_client, add_run

CARDS = "/api/v1/coaching-cards"
MISSED = {"kind": "missed_check_ins", "severity": "warning", "seen": "No check-in on Monday or Thursday.",
          "action": "Message the client.", "evidence": [{"day": "2025-03-03"}, {"day": "2025-03-06"}]}
DELOAD = {"kind": "deload", "severity": "critical", "seen": "Readiness red for 5 days.",
          "action": "Approve the deload.", "evidence": ["00000000-0000-0000-0000-000000000001"]}


@pytest.fixture
def coached(db):
    tenant = make_tenant(db)
    return tenant, add_client(db, tenant.id)


def _record(db, tenant, client_id, cards, *, run=None, week="2025-W10"):
    return service.record_cards(db, TenantContext.system(tenant.id), client_id=client_id,
                                run_id=run.id if run else None, week=week, cards=cards)


def test_recording_is_idempotent_per_run_and_validated(db, coached):
    tenant, coachee = coached
    run = add_run(db, tenant.id)
    made = _record(db, tenant, coachee.id, [MISSED, DELOAD], run=run)
    assert [(card.kind, card.severity, card.status, card.week) for card in made] == [
        ("missed_check_ins", "warning", "open", "2025-W10"), ("deload", "critical", "open", "2025-W10")]
    again = _record(db, tenant, coachee.id, [MISSED, DELOAD], run=run)
    assert [card.id for card in again] == [card.id for card in made]
    assert db.scalar(select(func.count()).select_from(CoachingCard)) == 2

    for cards, week in (([{**MISSED, "severity": "urgent"}], "2025-W10"), ([{**MISSED, "seen": ""}], "2025-W10"),
                        ([{**MISSED, "colour": "red"}], "2025-W10"), ([MISSED], "2025-10"), ([MISSED], "2025-W54")):
        with pytest.raises(UnprocessableEntity):
            _record(db, tenant, coachee.id, cards, run=add_run(db, tenant.id), week=week)
    assert db.scalar(select(func.count()).select_from(CoachingCard)) == 2


def test_the_list_filters_and_pages(db, client, coached):
    tenant, coachee = coached
    other = add_client(db, tenant.id, name="Ada")
    _record(db, tenant, coachee.id, [MISSED, DELOAD], week="2025-W10")
    _record(db, tenant, other.id, [MISSED], week="2025-W11")
    viewer = tenant.headers(Role.viewer)

    def kinds(**params) -> list[tuple[str, str]]:
        items = client.get(CARDS, params=params, headers=viewer).json()["items"]
        return sorted((item["kind"], item["week"]) for item in items)

    assert len(kinds()) == 3
    assert kinds(client_id=str(coachee.id)) == [("deload", "2025-W10"), ("missed_check_ins", "2025-W10")]
    assert kinds(severity="critical") == [("deload", "2025-W10")]
    assert kinds(kind="missed_check_ins", week="2025-W11") == [("missed_check_ins", "2025-W11")]
    assert kinds(status="done") == []
    for bad in ({"severity": "urgent"}, {"status": "closed"}, {"week": "March"}, {"limit": 0}):
        assert client.get(CARDS, params=bad, headers=viewer).status_code == 422, bad

    seen, cursor = [], None
    while True:
        page = client.get(CARDS, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=viewer).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3


def test_a_card_is_closed_once_done_or_dismissed(db, client, coached):
    tenant, coachee = coached
    done, dismissed = _record(db, tenant, coachee.id, [MISSED, DELOAD])
    reviewer = tenant.headers(Role.reviewer)

    read = client.get(f"{CARDS}/{done.id}", headers=tenant.headers(Role.viewer))
    assert (read.status_code, read.json()["status"], read.json()["evidence"]) == (200, "open", MISSED["evidence"])
    assert client.patch(f"{CARDS}/{done.id}", json={"status": "done"}, headers=reviewer).json()["status"] == "done"
    assert client.patch(f"{CARDS}/{done.id}", json={"status": "done"}, headers=reviewer).status_code == 200
    refused = client.patch(f"{CARDS}/{done.id}", json={"status": "dismissed"}, headers=reviewer)
    assert refused.status_code == 409 and refused.json()["card_status"] == "done"
    assert client.patch(f"{CARDS}/{dismissed.id}", json={"status": "dismissed"},
                        headers=tenant.headers(Role.operator)).status_code == 200
    assert client.patch(f"{CARDS}/{dismissed.id}", json={"status": "open"}, headers=reviewer).status_code == 422
    assert client.patch(f"{CARDS}/{done.id}", json={"status": "done"},
                        headers=tenant.headers(Role.viewer)).status_code == 403
    assert sorted(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(done.id)))) == [
        "coaching_card.create", "coaching_card.status"]


@pytest.mark.parametrize(("current", "target", "allowed"), [
    ("open", "done", True), ("open", "dismissed", True), ("done", "dismissed", False), ("dismissed", "done", False),
    ("done", "open", False), ("dismissed", "open", False)])
def test_the_card_state_machine(current, target, allowed):
    card = CoachingCard(status=current)
    if allowed:
        assert transition_card(card, CardStatus(target)) and card.status == target
    else:
        with pytest.raises(IllegalCardTransition):
            transition_card(card, CardStatus(target))
        assert card.status == current
    assert not transition_card(card, CardStatus(card.status))
