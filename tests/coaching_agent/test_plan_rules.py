"""The coaching agent's guardrails as plain functions: the weekly-sets cap, spreading sets over sessions,
nutrition bounds, the typed diff, what a steady week and a deload get, the card rules, and the offline
answers (which pass the guardrails)."""

import uuid
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.agents import coaching as agent
from app.agents.coaching import CardDraft, ChangeDraft, NutritionDraft, ReviewAnswer
from app.coaching import flags
from app.coaching.flags import Day
from app.coaching.schemas import Nutrition, PlanContent
from app.coaching.settings import CoachingSettings, NutritionBounds
from tests.coaching_agent.helpers import MONDAY, PLAN, TIRED, falling_history, steady_history

SETTINGS = CoachingSettings()
CURRENT = PlanContent.model_validate(PLAN)  # 16 + 16 + 18 = 50 weekly sets


def _flags(history) -> flags.Flags:
    all_days = [Day(check_in_id=uuid.uuid4(), day=day, **values) for day, values in sorted(history.items())]
    return flags.compute([d for d in all_days if d.day >= MONDAY], [d for d in all_days if d.day < MONDAY],
                         check_in_days=PLAN["check_in_days"], first_day=MONDAY, last_day=MONDAY + timedelta(days=6),
                         settings=SETTINGS)


STEADY, FALLING = _flags(steady_history(MONDAY)), _flags(falling_history(MONDAY))
# One tired day in a steady week: amber ((6 × 77 + 25) / 7 = 69.6 against 77), far from a deload.
AMBER = _flags({**steady_history(MONDAY), MONDAY + timedelta(days=2): TIRED})


# --- volume ----------------------------------------------------------------------------------------


def test_the_weekly_sets_change_is_capped_and_rounded_towards_no_change():
    assert agent.capped_sets_change(50, -40, 10) == -5
    assert agent.capped_sets_change(50, 25, 10) == 5
    assert agent.capped_sets_change(50, -7, 10) == -3  # 3.5 sets: three
    assert agent.capped_sets_change(8, -10, 10) == 0  # 0.8 of a set: none


@given(st.integers(0, 420), st.integers(-100, 100), st.integers(0, 50))
def test_no_volume_change_beyond_the_cap(total, pct, cap):
    change = agent.capped_sets_change(total, pct, cap)
    assert 100 * abs(change) <= cap * total
    assert change * pct >= 0  # never the other way


def test_sets_are_spread_in_proportion_with_the_largest_remainders():
    assert agent.spread_sets([16, 16, 18], 45) == [15, 14, 16]
    assert agent.spread_sets([16, 16, 18], 55) == [18, 17, 20]
    assert agent.spread_sets([0, 10], 9) == [0, 9]


@given(st.lists(st.integers(0, 40), min_size=1, max_size=21), st.integers(-50, 50))
def test_spreading_keeps_the_new_total(sets, pct):
    total = sum(sets)
    new_total = total + agent.capped_sets_change(total, pct, 50)
    spread = agent.spread_sets(sets, new_total)
    assert sum(spread) == new_total or any(count == 60 for count in spread)
    assert all(count >= 0 for count in spread)


# --- nutrition -----------------------------------------------------------------------------------


def test_nutrition_targets_are_kept_within_the_bounds():
    wanted = NutritionDraft(calories_kcal=900, protein_g=220, fat_g=500)

    nutrition, adjusted = agent.bounded_nutrition(CURRENT.nutrition, wanted, NutritionBounds())

    assert nutrition == Nutrition(calories_kcal=1200, protein_g=220, carbs_g=260, fat_g=200)
    assert adjusted == ["nutrition.calories_kcal: 900 brought to 1200, the bound 1200..4000",
                        "nutrition.fat_g: 500 brought to 200, the bound 30..200"]


def test_nutrition_bounds_never_leave_the_plans_own_limits():
    loose = NutritionBounds.model_validate({"calories_kcal": {"min": 500, "max": 9000}})

    nutrition, _ = agent.bounded_nutrition(CURRENT.nutrition, NutritionDraft(calories_kcal=700), loose)

    assert nutrition.calories_kcal == 1000  # PlanContent's minimum


# --- the plan change -------------------------------------------------------------------------------


def test_a_steady_week_gets_no_change_whatever_the_model_drafts():
    change, adjusted = agent.settle_change(CURRENT, STEADY, ChangeDraft(weekly_sets_change_pct=10, why="progress"),
                                           SETTINGS)

    assert change is None
    assert adjusted == ["plan change dropped: the week is steady, the plan stays as it is"]


def test_a_deload_is_a_reduction_by_the_cap_with_a_typed_diff():
    change, adjusted = agent.settle_change(CURRENT, FALLING, None, SETTINGS)

    assert (change.weekly_sets_before, change.weekly_sets_after) == (50, 45)
    assert change.proposed.weekly_sets() == 45
    assert [(line["field"], line["before"], line["after"]) for line in change.changes] == [
        ("sessions.0.sets", 16, 15), ("sessions.1.sets", 16, 14), ("sessions.2.sets", 18, 16)]
    assert all(line["why"].startswith("Weekly sets 50 → 45 (-10 %), at most 10 % a week: a deload")
               for line in change.changes)
    assert change.rationale.startswith("Deload: readiness red on 4 check-ins in a row.")
    assert adjusted == []
    unchanged = CURRENT.model_dump(exclude={"sessions"})
    assert change.proposed.model_dump(exclude={"sessions"}) == unchanged


def test_a_deload_deeper_than_the_cap_is_capped_and_a_model_increase_is_replaced():
    deeper, adjusted_deeper = agent.settle_change(CURRENT, FALLING, ChangeDraft(weekly_sets_change_pct=-40, why="rest"),
                                                  SETTINGS)
    upward, adjusted_upward = agent.settle_change(CURRENT, FALLING, ChangeDraft(weekly_sets_change_pct=5, why="push"),
                                                  SETTINGS)

    assert deeper.weekly_sets_after == upward.weekly_sets_after == 45
    assert adjusted_deeper == ["weekly sets -40 % capped at 10 % a week"]
    assert adjusted_upward == ["weekly sets +5 % replaced by the deload: -10 %"]


def test_a_lighter_deload_the_model_asks_for_is_kept():
    change, _ = agent.settle_change(CURRENT, FALLING, ChangeDraft(weekly_sets_change_pct=-4, why="a little rest"),
                                    SETTINGS.model_copy(update={"max_weekly_volume_change_pct": 20}))

    assert change.weekly_sets_after == 48


def test_no_volume_increase_unless_readiness_is_green():
    assert AMBER.readiness.band is flags.Band.amber and AMBER.deload is None
    draft = ChangeDraft(weekly_sets_change_pct=10, nutrition=NutritionDraft(calories_kcal=2500), why="more")

    change, adjusted = agent.settle_change(CURRENT, AMBER, draft, SETTINGS)

    assert change.weekly_sets_after == 50
    assert [line["field"] for line in change.changes] == ["nutrition.calories_kcal"]
    assert adjusted == ["weekly sets +10 % dropped: no increase while readiness is not green"]


def test_a_tenant_cap_of_zero_allows_no_volume_change_even_for_a_deload():
    change, adjusted = agent.settle_change(CURRENT, FALLING, None,
                                           SETTINGS.model_copy(update={"max_weekly_volume_change_pct": 0}))

    assert change is None
    assert adjusted == []


def test_the_diff_lists_every_leaf_that_differs():
    after = CURRENT.model_copy(update={"nutrition": Nutrition(calories_kcal=2200, protein_g=160, carbs_g=240, fat_g=80),
                                       "check_in_days": ["mon", "thu"]})

    diff = agent.plan_diff(CURRENT, after, {"nutrition": "less", "check_in_days": "fewer"})

    assert diff == [
        {"field": "nutrition.calories_kcal", "before": 2400, "after": 2200, "why": "less"},
        {"field": "nutrition.carbs_g", "before": 260, "after": 240, "why": "less"},
        {"field": "check_in_days.1", "before": "wed", "after": "thu", "why": "fewer"},
        {"field": "check_in_days.2", "before": "fri", "after": None, "why": "fewer"},
        {"field": "check_in_days.3", "before": "sun", "after": None, "why": "fewer"}]


# --- cards -----------------------------------------------------------------------------------------


def test_the_answer_must_card_every_raised_flag_and_keep_to_the_rules():
    answer = ReviewAnswer(note="n", cards=[CardDraft(kind="deload", explanation="e", action="a"),
                                           CardDraft(kind="injury", explanation="e", action="a")],
                          plan_change=ChangeDraft(weekly_sets_change_pct=30, nutrition=NutritionDraft(protein_g=20),
                                                  why="w"))

    issues = agent.answer_issues(answer, FALLING, SETTINGS)

    assert issues == [
        "card kind 'injury' is not one of deload, readiness, missed_check_ins, low_training_adherence, "
        "low_nutrition_adherence, note",
        "write a card for the flag 'readiness'", "write a card for the flag 'missed_check_ins'",
        "write a card for the flag 'low_training_adherence'", "write a card for the flag 'low_nutrition_adherence'",
        "weekly_sets_change_pct 30 is beyond the 10 % a week allowed",
        "the training volume may not go up while readiness is not green",
        "a deload is triggered: reduce the weekly sets", "nutrition.protein_g 20 is outside 60..300"]
    assert agent.answer_issues(ReviewAnswer(note="n", cards=[CardDraft(kind="steady", explanation="e", action="a")],
                                            plan_change=ChangeDraft(why="w")), STEADY, SETTINGS) == [
        "the week is steady (no flag raised): propose no plan change"]


def test_cards_carry_codes_facts_severity_and_evidence_whatever_the_model_wrote():
    answer = ReviewAnswer(note="n", cards=[
        CardDraft(kind="deload", explanation="Fatigue has built up.", action="Approve the deload."),
        CardDraft(kind="deload", explanation="Again.", action="Twice."),
        CardDraft(kind="steady", explanation="All fine.", action="Nothing."),
        CardDraft(kind="note", explanation="Knee pain mentioned on Friday.", action="Refer to a physiotherapist.")])

    cards, dropped = agent.settle_cards(answer, FALLING, agent.rule_cards({"client": {"name": "Ada Lovelace"}}))

    assert [(card.kind, card.severity) for card in cards] == [
        ("deload", "critical"), ("readiness", "critical"), ("missed_check_ins", "warning"),
        ("low_training_adherence", "warning"), ("low_nutrition_adherence", "warning"), ("note", "info")]
    deload = cards[0]
    assert deload.seen == ("Readiness was red on 4 check-ins in a row (Tue 3 Mar 25, Thu 5 Mar 25, Fri 6 Mar 25, "
                           "Sat 7 Mar 25); 3 trigger a deload. Fatigue has built up.")
    assert deload.action == "Approve the deload."
    assert deload.evidence == FALLING.deload.evidence
    missed = cards[2]
    assert missed.seen.startswith("2 of 4 expected check-ins missing: Wed 4 Mar and Sun 8 Mar.")
    assert missed.action == "Message Ada about the missed days and agree check-in times that fit their week."
    assert [item.day for item in missed.evidence] == [date(2026, 3, 4), date(2026, 3, 8)]
    assert dropped == ["card 'deload': a second card for the same flag", "card 'steady': no such flag was raised"]


def test_a_steady_week_gets_one_steady_card():
    cards, _ = agent.settle_cards(ReviewAnswer(note="n"), STEADY, agent.rule_cards({"client": {"name": "Bo"}}))

    assert [(card.kind, card.severity) for card in cards] == [("steady", "info")]
    assert cards[0].seen.startswith("7 check-ins from Mon 2 Mar to Sun 8 Mar, none expected missing; readiness 77 "
                                    "against a baseline of 77 (0 points): green")
    assert len(cards[0].evidence) == 7


# --- offline answers -----------------------------------------------------------------------------


def _loaded(history) -> agent.Loaded:
    items = [Day(check_in_id=uuid.uuid4(), day=day, **values) for day, values in sorted(history.items())]
    return agent.Loaded(
        client=agent.ClientFacts(id=uuid.uuid4(), name="Ada Lovelace", goal="Strength", timezone="Europe/Berlin",
                                 start_date=None),
        company="Agentline Coaching", week="2026-W10", first_day=MONDAY, last_day=MONDAY + timedelta(days=6),
        plan_version=1, plan=CURRENT, week_check_ins=[d for d in items if d.day >= MONDAY],
        baseline_check_ins=[d for d in items if d.day < MONDAY], notes={}, settings=SETTINGS,
        origin={"pipeline_id": None, "requested_by_type": "system", "requested_by_id": None})


def test_the_offline_coach_writes_a_note_naming_days_and_numbers_and_proposes_the_deload():
    loaded = _loaded(falling_history(MONDAY))
    found = agent.compute_flags(loaded)

    answer = agent.answer_review_offline(agent.prompt_variables(loaded, found))

    assert agent.answer_issues(answer, found, SETTINGS) == []
    assert answer.note.startswith("2026-W10 for Ada: Readiness was red on 4 check-ins in a row (Tue 3 Mar 25")
    assert "2 of 4 expected check-ins missing: Wed 4 Mar and Sun 8 Mar." in answer.note
    assert "Training adherence averaged 58 %" in answer.note
    assert answer.note.endswith("Proposed: weekly sets down 10 % (a deload).")
    assert [card.kind for card in answer.cards] == ["deload", "readiness", "missed_check_ins",
                                                    "low_training_adherence", "low_nutrition_adherence"]
    assert answer.plan_change.weekly_sets_change_pct == -10


def test_the_offline_coach_keeps_a_steady_plan():
    loaded = _loaded(steady_history(MONDAY))
    found = agent.compute_flags(loaded)

    answer = agent.answer_review_offline(agent.prompt_variables(loaded, found))

    assert agent.answer_issues(answer, found, SETTINGS) == []
    assert answer.plan_change is None
    assert answer.note.startswith("2026-W10: a steady week for Ada. 7 check-ins from Mon 2 Mar to Sun 8 Mar")
    assert [card.kind for card in answer.cards] == ["steady"]
