"""`coaching`: a client's weekly review: flags computed in code, explained by the model as coaching cards for
the coach, and a plan change a reviewer approves before it takes effect.

    load ─► (flags, in code) ─► review (model) ─► (cards and plan change, settled in code) ─► record

- **load**: the client (missing: `not_found`; not active: `client_not_active`), the tenant's
  `settings.coaching` (invalid: `coaching_settings_invalid`), the week (the input's, else the last complete
  week in the client's time zone; one not over yet: `week_not_over`), the plan's current version (none:
  `no_plan`), and the check-ins of the week and of the 28 days before it (the baseline).
- CODE computes the flags (app.coaching.flags): missed check-ins, low adherence, readiness against the
  client's own baseline in bands, the deload trigger. Each names the check-ins behind it.
- **review**: the model (prompt `coaching.review`) explains the raised flags as cards (what it means, what
  the coach should do), writes a note on the week and may draft a plan change: a percentage change of the
  weekly training sets and nutrition targets. It decides nothing the flags decide.
- Then CODE settles the answer: one card per raised flag, with the flag's severity, its facts and its
  evidence (the model's words explain them; a flag the model skipped gets the rule-based card); a steady
  week gets one `steady` card and no plan change, whatever the model drafted. A plan change is built by
  code as the whole plan as it would be, with its before/after diff, within the rules: the weekly sets move
  by at most `max_weekly_volume_change_pct` (rounded towards no change, spread over the sessions), never
  up unless readiness is green; a triggered deload is a reduction of the weekly sets, by the cap unless
  the model asked for less; nutrition targets stay within the tenant's bounds.
- **record**: the cards (`record_cards`) and, when there is a change, the change with its `plan_change`
  review (`propose_plan_change`), in one transaction. With a change the run waits for the review
  (approving applies it as a new plan version; a plan changed meanwhile is a 409, never applied over it);
  without one it succeeds with its cards.

With the offline provider, the prompt is answered by the rules at the end of this file: a coach's note built
from the computed flags, naming the days and the numbers.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from app.agents.base import Agent, RunContext
from app.agents.records import RunOrigin, business_errors, run_origin, tenant_facts
from app.agents.registry import register
from app.clients import service as clients
from app.coaching import flags as rules
from app.coaching import service as coaching
from app.coaching.flags import Band, Day, Deload, Evidence, Flags, LowAdherence, MissedCheckIns, Readiness, Severity
from app.coaching.schedule import last_complete_week, local_today, week_days
from app.coaching.schemas import Nutrition, PlanContent
from app.coaching.settings import CoachingSettings, NutritionBounds, parse
from app.core.errors import UnprocessableEntity
from app.llm.orchestrator import Generation, generate
from app.llm.providers.offline import register_answerer
from app.reviews import service as reviews
from app.runs.errors import PermanentError

AGENT_NAME = "coaching"
REVIEW_PROMPT = "coaching.review"
STEADY = "steady"
NOTE = "note"
MAX_NOTES = 2
NUTRITION_TARGETS = tuple(Nutrition.model_fields)


# --- the words code writes: facts, with their days and numbers ------------------------------------


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def days_label(days: Sequence[date]) -> str:
    labels = [day_label(day) for day in days]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def number(value: Any) -> str:
    """A figure as people write it: 72 rather than 72.0, -12.5 with its sign where it matters."""
    text = format(value, "f") if not isinstance(value, int) else str(value)
    return text[:-2] if text.endswith(".0") else text


def flag_key(flag: MissedCheckIns | LowAdherence | Readiness | Deload) -> str:
    """A card's kind: the flag's, the adherence flags by their area."""
    return f"low_{flag.area}_adherence" if isinstance(flag, LowAdherence) else flag.kind


def _readiness_sentence(readiness: Readiness) -> str:
    daily = ", ".join(f"{day_label(day.day)} {day.score}" for day in readiness.days)
    return (f"Readiness averaged {number(readiness.average_7d)} over {readiness.week_scores} check-ins against a "
            f"28-day baseline of {number(readiness.baseline_28d)} ({number(readiness.delta)} points): "
            f"{readiness.band}. Daily: {daily}.")


def facts_of(flag: MissedCheckIns | LowAdherence | Readiness | Deload) -> str:
    """What code found, in a sentence naming the days and the numbers."""
    if isinstance(flag, MissedCheckIns):
        return (f"{len(flag.missed)} of {len(flag.expected)} expected check-ins missing: "
                f"{days_label(flag.missed)}.")
    if isinstance(flag, LowAdherence):
        values = ", ".join(f"{day_label(item.day)} {item.value} %" for item in flag.evidence)
        return (f"{flag.area.capitalize()} adherence averaged {number(flag.average_pct)} % over "
                f"{len(flag.evidence)} check-ins ({values}), below the {flag.threshold_pct} % threshold.")
    if isinstance(flag, Deload):
        run = ", ".join(f"{day_label(item.day)} {item.value}" for item in flag.evidence)
        return (f"Readiness was red on {flag.red_days_in_a_row} check-ins in a row ({run}); {flag.required} "
                "trigger a deload.")
    return _readiness_sentence(flag)


def steady_facts(flags: Flags) -> str:
    parts = [f"{flags.check_ins} check-ins from {day_label(flags.first_day)} to {day_label(flags.last_day)}, "
             "none expected missing"]
    trend = flags.readiness
    if trend.band is not None:
        parts.append(f"readiness {number(trend.average_7d)} against a baseline of {number(trend.baseline_28d)} "
                     f"({number(trend.delta)} points): green")
    else:
        parts.append(f"no readiness trend yet ({trend.reason})")
    return "; ".join(parts) + "; adherence at or above the threshold."


# --- the model's answer ------------------------------------------------------------------------


class CardDraft(BaseModel):
    kind: str = Field(min_length=1, max_length=32,
                      description="The key of a raised flag, 'steady' for a steady week, or 'note'")
    explanation: str = Field(min_length=1, max_length=1500,
                             description="What the flag means for this client, from the data shown")
    action: str = Field(min_length=1, max_length=1000, description="What the coach should do, concretely")


class NutritionDraft(BaseModel):
    calories_kcal: int | None = None
    protein_g: int | None = None
    carbs_g: int | None = None
    fat_g: int | None = None


class ChangeDraft(BaseModel):
    weekly_sets_change_pct: int = Field(0, ge=-100, le=100,
                                        description="Change of the week's total working sets in percent; negative "
                                                    "reduces. Code spreads it over the sessions.")
    nutrition: NutritionDraft | None = Field(None, description="New daily targets; leave out what stays")
    why: str = Field(min_length=1, max_length=2000, description="Why, for the coach who approves it")


class ReviewAnswer(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="A short note on the week, for the coach")
    cards: list[CardDraft] = Field(default_factory=list, max_length=10)
    plan_change: ChangeDraft | None = Field(None, description="At most one, small and reversible; none if the "
                                                              "plan is working")


# --- guardrails: what the answer may say and do -------------------------------------------------------


def card_kinds(flags: Flags) -> list[str]:
    """The card kinds an answer may use: the raised flags' (or 'steady' when none is raised) and 'note'."""
    return [*(flag_key(flag) for flag in flags.raised()), *([STEADY] if flags.steady else []), NOTE]


def volume_increase_allowed(flags: Flags) -> bool:
    return flags.readiness.band is Band.green and flags.deload is None


def answer_issues(answer: ReviewAnswer, flags: Flags, settings: CoachingSettings) -> list[str]:
    """What the model is asked to repair; whatever is left is settled by code."""
    issues = []
    allowed = card_kinds(flags)
    written = [card.kind for card in answer.cards]
    issues += [f"card kind '{kind}' is not one of {', '.join(allowed)}" for kind in written if kind not in allowed]
    issues += [f"write a card for the flag '{kind}'" for kind in allowed if kind != NOTE and kind not in written]
    change = answer.plan_change
    if change is None:
        return issues
    if flags.steady:
        issues.append("the week is steady (no flag raised): propose no plan change")
        return issues
    cap = settings.max_weekly_volume_change_pct
    if abs(change.weekly_sets_change_pct) > cap:
        issues.append(f"weekly_sets_change_pct {change.weekly_sets_change_pct} is beyond the {cap} % a week allowed")
    if change.weekly_sets_change_pct > 0 and not volume_increase_allowed(flags):
        issues.append("the training volume may not go up while readiness is not green")
    if flags.deload is not None and change.weekly_sets_change_pct >= 0:
        issues.append("a deload is triggered: reduce the weekly sets")
    for name, value in (change.nutrition.model_dump(exclude_none=True) if change.nutrition else {}).items():
        bound = getattr(settings.nutrition, name)
        if not bound.min <= value <= bound.max:
            issues.append(f"nutrition.{name} {value} is outside {bound.min}..{bound.max}")
    return issues


# --- settling: cards and the plan change, by code --------------------------------------------------


class SettledCard(BaseModel):
    kind: str
    severity: Severity
    seen: str
    action: str
    evidence: list[Evidence]


def settle_cards(answer: ReviewAnswer, flags: Flags, offline_cards: dict[str, CardDraft]) -> tuple[
        list[SettledCard], list[str]]:
    """One card per raised flag (or one `steady` card), in the flags' order, with code's severity, facts and
    evidence and the model's explanation and action (the rule-based ones when it wrote none); at most
    `MAX_NOTES` notes of the model's. Returns the cards and what was left out of the answer."""
    drafts: dict[str, CardDraft] = {}
    notes: list[CardDraft] = []
    dropped: list[str] = []
    allowed = card_kinds(flags)
    for card in answer.cards:
        if card.kind == NOTE:
            notes.append(card)
        elif card.kind not in allowed:
            dropped.append(f"card '{card.kind}': no such flag was raised")
        elif card.kind in drafts:
            dropped.append(f"card '{card.kind}': a second card for the same flag")
        else:
            drafts[card.kind] = card
    dropped += [f"note '{note.explanation[:60]}': at most {MAX_NOTES} notes" for note in notes[MAX_NOTES:]]
    cards = []
    for flag in flags.raised():
        key = flag_key(flag)
        draft = drafts.get(key) or offline_cards[key]
        cards.append(SettledCard(kind=key, severity=flag.severity, seen=f"{facts_of(flag)} {draft.explanation}",
                                 action=draft.action, evidence=flag.evidence))
    if flags.steady:
        draft = drafts.get(STEADY) or offline_cards[STEADY]
        cards.append(SettledCard(kind=STEADY, severity=Severity.info, seen=f"{steady_facts(flags)} "
                                 f"{draft.explanation}", action=draft.action, evidence=flags.readiness.evidence))
    cards += [SettledCard(kind=NOTE, severity=Severity.info, seen=note.explanation, action=note.action, evidence=[])
              for note in notes[:MAX_NOTES]]
    return cards, dropped


def capped_sets_change(total: int, pct: int, cap: int) -> int:
    """The change of the weekly sets for a requested percentage: within ±cap, rounded towards no change, so
    it is never more than the cap allows."""
    bounded = max(-cap, min(cap, pct))
    magnitude = total * abs(bounded) // 100
    return magnitude if bounded > 0 else -magnitude


def spread_sets(sets: Sequence[int], new_total: int, most_per_session: int = 60) -> list[int]:
    """Sessions' sets scaled to `new_total` in proportion (largest remainders first, earlier sessions first
    on a tie), none above `most_per_session`."""
    total = sum(sets)
    if total == 0:
        return list(sets)
    exact = [Fraction(count * new_total, total) for count in sets]
    spread = [int(share) for share in exact]
    by_remainder = sorted(range(len(sets)), key=lambda index: (-(exact[index] - spread[index]), index))
    for index in by_remainder[: new_total - sum(spread)]:
        spread[index] += 1
    return [min(count, most_per_session) for count in spread]


def _schema_bounds(name: str) -> tuple[int, int]:
    metadata = Nutrition.model_fields[name].metadata
    low = next(item.ge for item in metadata if isinstance(item, Ge))
    high = next(item.le for item in metadata if isinstance(item, Le))
    return int(low), int(high)


def bounded_nutrition(current: Nutrition, draft: NutritionDraft | None,
                      bounds: NutritionBounds) -> tuple[Nutrition, list[str]]:
    """The drafted targets within the tenant's bounds (and the plan's own limits); what was left as is."""
    values = current.model_dump()
    adjusted = []
    for name, wanted in (draft.model_dump(exclude_none=True) if draft else {}).items():
        bound = getattr(bounds, name)
        schema_low, schema_high = _schema_bounds(name)
        low, high = max(bound.min, schema_low), min(bound.max, schema_high)
        value = max(low, min(high, wanted))
        if value != wanted:
            adjusted.append(f"nutrition.{name}: {wanted} brought to {value}, the bound {low}..{high}")
        values[name] = value
    return Nutrition.model_validate(values), adjusted


class SettledChange(BaseModel):
    proposed: PlanContent
    changes: list[dict[str, Any]]
    rationale: str
    weekly_sets_before: int
    weekly_sets_after: int


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in items:
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def plan_diff(before: PlanContent, after: PlanContent, why: dict[str, str]) -> list[dict[str, Any]]:
    """The typed before/after diff of two plans: one line per leaf that differs (`sessions.2.sets`,
    `nutrition.calories_kcal`), with the reason given for its section."""
    old, new = _flatten(before.model_dump(mode="json")), _flatten(after.model_dump(mode="json"))
    return [{"field": field, "before": old.get(field), "after": new.get(field), "why": why.get(field.split(".")[0], "")}
            for field in [*old, *(field for field in new if field not in old)] if old.get(field) != new.get(field)]


def settle_change(plan: PlanContent, flags: Flags, draft: ChangeDraft | None,
                  settings: CoachingSettings) -> tuple[SettledChange | None, list[str]]:
    """The plan change code proposes from the model's draft, within the rules; None when nothing changes.
    Returns it and what code adjusted."""
    adjusted: list[str] = []
    if flags.steady:
        if draft is not None:
            adjusted.append("plan change dropped: the week is steady, the plan stays as it is")
        return None, adjusted
    cap = settings.max_weekly_volume_change_pct
    pct = draft.weekly_sets_change_pct if draft else 0
    if flags.deload is not None and pct >= 0:
        if draft is not None:
            adjusted.append(f"weekly sets {pct:+d} % replaced by the deload: -{cap} %")
        pct = -cap
    elif pct > 0 and not volume_increase_allowed(flags):
        adjusted.append(f"weekly sets {pct:+d} % dropped: no increase while readiness is not green")
        pct = 0
    elif abs(pct) > cap:
        adjusted.append(f"weekly sets {pct:+d} % capped at {cap} % a week")
    before_sets = plan.weekly_sets()
    change = capped_sets_change(before_sets, pct, cap)
    sets = spread_sets([session.sets for session in plan.sessions], before_sets + change)
    sessions = [session.model_copy(update={"sets": count}) for session, count in zip(plan.sessions, sets)]
    nutrition, nutrition_adjusted = bounded_nutrition(plan.nutrition, draft.nutrition if draft else None,
                                                      settings.nutrition)
    adjusted += nutrition_adjusted
    proposed = PlanContent.model_validate({**plan.model_dump(), "sessions": [s.model_dump() for s in sessions],
                                           "nutrition": nutrition.model_dump()})
    after_sets = proposed.weekly_sets()
    if pct and after_sets == before_sets:
        adjusted.append(f"weekly sets unchanged: {abs(pct)} % of {before_sets} sets is less than one set")
    volume_why = (f"Weekly sets {before_sets} → {after_sets} ({_pct_of(after_sets - before_sets, before_sets)}), "
                  f"at most {cap} % a week" + (": a deload" if flags.deload is not None else ""))
    why_text = draft.why if draft else (f"Deload: readiness red on {flags.deload.red_days_in_a_row} check-ins in a "
                                        "row." if flags.deload else "")
    changes = plan_diff(plan, proposed, {"sessions": volume_why, "nutrition": "Nutrition targets, within the "
                                         "tenant's bounds"})
    if not changes:
        return None, adjusted
    rationale = " ".join(part for part in (why_text, volume_why + "." if after_sets != before_sets else "") if part)
    return SettledChange(proposed=proposed, changes=changes, rationale=rationale[:8000],
                         weekly_sets_before=before_sets, weekly_sets_after=after_sets), adjusted


def _pct_of(change: int, total: int) -> str:
    """`change` as a signed percentage of `total`, to one decimal: "-10 %", "+7.5 %"."""
    share = (Decimal(100 * change) / total).quantize(rules.TENTH, rounding=ROUND_HALF_UP) if total else Decimal(0)
    return f"{'+' if share > 0 else ''}{number(share)} %"


# --- the run ---------------------------------------------------------------------------------------


class CoachingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: uuid.UUID
    week: str | None = Field(None, description="ISO week to review, 'YYYY-Www' (default: the last complete week "
                                               "in the client's time zone)", examples=["2026-W09"])

    @field_validator("week")
    @classmethod
    def _iso_week(cls, week: str | None) -> str | None:
        if week is not None:
            week_days(week)
        return week


class ClientFacts(BaseModel):
    id: uuid.UUID
    name: str
    goal: str | None
    timezone: str
    start_date: date | None = Field(description="Check-ins are expected from this day: the client's start date, "
                                                "else the day they became a client (on their clock)")


class Loaded(BaseModel):
    client: ClientFacts
    company: str
    week: str
    first_day: date
    last_day: date
    plan_version: int
    plan: PlanContent
    week_check_ins: list[Day]
    baseline_check_ins: list[Day]
    notes: dict[date, str]
    settings: CoachingSettings
    origin: RunOrigin


def _load(session: Session, ctx: RunContext, payload: CoachingInput) -> dict[str, Any]:
    with business_errors():
        client = clients.get_client(session, ctx.context, payload.client_id)
    if client.status != "active":
        raise PermanentError(f"Client {client.id} is {client.status}: only active clients are reviewed.",
                             code="client_not_active")
    tenant = tenant_facts(session, ctx.tenant_id)
    try:
        settings = parse(tenant.settings)
    except UnprocessableEntity as exc:
        raise PermanentError(exc.detail, code="coaching_settings_invalid") from exc
    week = payload.week or last_complete_week(datetime.now(UTC), client.timezone)
    first_day, last_day = week_days(week)
    today = local_today(datetime.now(UTC), client.timezone)
    if last_day >= today:
        raise PermanentError(f"Week {week} ends on {last_day}, and it is {today} for the client: review a week "
                             "that is over.", code="week_not_over")
    with business_errors():
        current = coaching.current_plan(session, ctx.context, client.id)
        if current is None:
            raise PermanentError(f"Client {client.id} has no plan: write one (PUT /api/v1/clients/{client.id}/plan) "
                                 "before reviewing.", code="no_plan")
        plan, version = current
        check_ins = coaching.check_ins_between(session, ctx.context, client.id,
                                               first_day - timedelta(days=rules.BASELINE_DAYS), last_day)
    return Loaded(
        client=ClientFacts(id=client.id, name=client.name, goal=client.goal, timezone=client.timezone,
                           start_date=client.start_date or local_today(client.created_at, client.timezone)),
        company=tenant.name, week=week, first_day=first_day, last_day=last_day, plan_version=plan.current_version,
        plan=PlanContent.model_validate(version.content),
        week_check_ins=[Day.of(check_in) for check_in in check_ins if check_in.day >= first_day],
        baseline_check_ins=[Day.of(check_in) for check_in in check_ins if check_in.day < first_day],
        notes={check_in.day: check_in.notes for check_in in check_ins if check_in.day >= first_day and check_in.notes},
        settings=settings, origin=run_origin(session, ctx.run_id)).model_dump(mode="json")


def compute_flags(loaded: Loaded) -> Flags:
    return rules.compute(loaded.week_check_ins, loaded.baseline_check_ins, check_in_days=loaded.plan.check_in_days,
                         first_day=loaded.first_day, last_day=loaded.last_day, settings=loaded.settings,
                         start_date=loaded.client.start_date)


def prompt_variables(loaded: Loaded, flags: Flags) -> dict[str, Any]:
    """What the model is shown: the client, the week, the plan, the week's check-ins (newest first, each with
    its readiness), the flags with their facts, and the rules its plan change must keep to."""
    scores = {day.day: day for day in flags.readiness.days}
    check_ins = []
    for day in sorted(loaded.week_check_ins, key=lambda day: day.day, reverse=True):
        row = {"day": f"{day.day.isoformat()} ({day.day:%a})",
               **day.model_dump(mode="json", exclude={"check_in_id", "day"}, exclude_none=True)}
        if day.day in scores:
            row["readiness"] = scores[day.day].score
            if scores[day.day].band is not None:
                row["readiness_band"] = scores[day.day].band
        if day.day in loaded.notes:
            row["notes"] = loaded.notes[day.day]
        check_ins.append(row)
    trend = flags.readiness
    settings = loaded.settings
    return {
        "company": loaded.company,
        "client": {"name": loaded.client.name, "goal": loaded.client.goal, "timezone": loaded.client.timezone,
                   "week": loaded.week, "first_day": loaded.first_day.isoformat(),
                   "last_day": loaded.last_day.isoformat()},
        "plan": {"version": loaded.plan_version, "weekly_sets": loaded.plan.weekly_sets(),
                 **loaded.plan.model_dump(mode="json")},
        "checkins": check_ins,
        "flags": {"steady": flags.steady,
                  "raised": [{"key": flag_key(flag), "severity": flag.severity.value, "facts": facts_of(flag)}
                             for flag in flags.raised()],
                  "readiness": {"band": trend.band, "average_7d": _json_number(trend.average_7d),
                                "baseline_28d": _json_number(trend.baseline_28d), "delta": _json_number(trend.delta),
                                "note": trend.reason},
                  "summary": steady_facts(flags) if flags.steady else None},
        "rules": {"card_kinds": card_kinds(flags),
                  "max_weekly_volume_change_pct": settings.max_weekly_volume_change_pct,
                  "volume_increase_allowed": volume_increase_allowed(flags), "deload": flags.deload is not None,
                  "nutrition_bounds": settings.nutrition.model_dump(), "change_allowed": not flags.steady},
    }


def _json_number(value: Any) -> str | None:
    return None if value is None else number(value)


class RecordedCard(SettledCard):
    id: uuid.UUID


class ProposedChange(BaseModel):
    id: uuid.UUID
    review_id: uuid.UUID
    base_version: int
    changes: list[dict[str, Any]]
    proposed: PlanContent
    rationale: str
    weekly_sets_before: int
    weekly_sets_after: int


class Recorded(BaseModel):
    cards: list[RecordedCard]
    plan_change: ProposedChange | None


def _record(session: Session, ctx: RunContext, loaded: Loaded, cards: list[SettledCard],
            change: SettledChange | None) -> dict[str, Any]:
    with business_errors():
        rows = coaching.record_cards(session, ctx.context, client_id=loaded.client.id, run_id=ctx.run_id,
                                     week=loaded.week, cards=[card.model_dump(mode="json") for card in cards])
        proposed = None
        if change is not None:
            made = coaching.propose_plan_change(
                session, ctx.context, client_id=loaded.client.id, base_version=loaded.plan_version,
                changes=change.changes, proposed=change.proposed, rationale=change.rationale, run_id=ctx.run_id,
                pipeline_id=loaded.origin.pipeline_id, agent=AGENT_NAME)
            review = reviews.get_review(session, ctx.context, coaching.PLAN_CHANGE, made.id)
            proposed = ProposedChange(id=made.id, review_id=review.id, base_version=made.base_version,
                                      changes=made.changes, proposed=PlanContent.model_validate(made.proposed),
                                      rationale=made.rationale, weekly_sets_before=change.weekly_sets_before,
                                      weekly_sets_after=change.weekly_sets_after)
    recorded = [RecordedCard(id=row.id, kind=row.kind, severity=Severity(row.severity), seen=row.seen,
                             action=row.action, evidence=row.evidence) for row in rows]
    return Recorded(cards=recorded, plan_change=proposed).model_dump(mode="json")


class CoachingOutput(BaseModel):
    client_id: uuid.UUID
    week: str
    first_day: date
    last_day: date
    plan_version: int
    band: Band | None = Field(description="The week's readiness band against the client's baseline")
    deload: bool
    steady: bool
    flags: Flags = Field(description="Everything code found, with the check-ins behind each flag")
    note: str
    cards: list[RecordedCard]
    plan_change: ProposedChange | None
    adjusted: list[str] = Field(description="What code changed or left out of the model's answer, and why")
    offline: bool
    confidence: float


class CoachingAgent(Agent[CoachingInput, CoachingOutput]):
    name = AGENT_NAME
    input_model = CoachingInput
    output_model = CoachingOutput
    uses_models = True
    prompt_keys = (REVIEW_PROMPT,)
    description = ("Reviews a client's week of check-ins: flags computed in code (missed check-ins, adherence, "
                   "readiness against their baseline, deload), coaching cards for the coach, and a plan change "
                   "that a reviewer approves before it becomes the plan's next version.")

    def run(self, ctx: RunContext, payload: CoachingInput) -> CoachingOutput:
        loaded = Loaded.model_validate(ctx.step("load", lambda session: _load(session, ctx, payload)))
        flags = compute_flags(loaded)
        variables = prompt_variables(loaded, flags)
        review: Generation[ReviewAnswer] = generate(
            ctx, step="review", prompt_key=REVIEW_PROMPT, output_model=ReviewAnswer, variables=variables,
            validators=[lambda answer: answer_issues(answer, flags, loaded.settings)])
        cards, dropped = settle_cards(review.output, flags, rule_cards(variables))
        change, adjusted = settle_change(loaded.plan, flags, review.output.plan_change, loaded.settings)
        recorded = Recorded.model_validate(ctx.step("record", lambda session: _record(
            session, ctx, loaded, cards, change)))
        return CoachingOutput(
            client_id=loaded.client.id, week=loaded.week, first_day=loaded.first_day, last_day=loaded.last_day,
            plan_version=loaded.plan_version, band=flags.readiness.band, deload=flags.deload is not None,
            steady=flags.steady, flags=flags, note=review.output.note, cards=recorded.cards,
            plan_change=recorded.plan_change, adjusted=[*dropped, *adjusted], offline=review.offline,
            confidence=review.confidence)

    def needs_review(self, output: CoachingOutput) -> bool:
        return output.plan_change is not None


register(CoachingAgent())


# --- offline answers: a coach's note from the computed flags ------------------------------------------


def _first_name(variables: dict[str, Any]) -> str:
    name = str((variables.get("client") or {}).get("name") or "").strip()
    return name.split(" ")[0] if name else "the client"


def rule_cards(variables: dict[str, Any]) -> dict[str, CardDraft]:
    """Per card kind, what a coach would read into the flag and do about it."""
    who = _first_name(variables)
    rules_shown = variables.get("rules") or {}
    cap = rules_shown.get("max_weekly_volume_change_pct", 10)
    texts = {
        "missed_check_ins": (
            "Without those check-ins the week's picture is incomplete, and gaps often come before a drop in "
            "adherence.",
            f"Message {who} about the missed days and agree check-in times that fit their week."),
        "low_training_adherence": (
            "Fewer sessions were done than planned; more volume would not be done either.",
            f"Ask {who} which sessions did not happen and why; keep the volume until adherence is back above the "
            "threshold."),
        "low_nutrition_adherence": (
            "The nutrition targets were not met on most days; the targets are only useful if they are followed.",
            f"Go through a typical day with {who} and find the meal that slips; keep the targets for now."),
        "readiness": (
            f"{who} is recovering worse than usual: sleep, stress, soreness, mood or energy are off their own "
            "baseline.",
            f"Check sleep and stress with {who} this week and keep the training load from rising."),
        "deload": (
            "Readiness stayed red for days in a row: accumulated fatigue, not a single bad day.",
            f"Approve a deload week: weekly sets down by {cap} %, back to the plan when readiness returns to "
            "the baseline."),
        STEADY: (
            "The plan is working: check-ins on time, adherence high and readiness at the baseline.",
            f"Keep the plan as it is and tell {who} the consistency shows."),
    }
    return {kind: CardDraft(kind=kind, explanation=explanation, action=action)
            for kind, (explanation, action) in texts.items()}


def answer_review_offline(variables: dict[str, Any]) -> ReviewAnswer | None:
    """coaching.review by rules: a card per raised flag (its facts, what they mean, what to do), a note that
    names the days and the numbers, and a plan change only for a deload or a red week: the weekly sets down
    by the tenant's cap."""
    shown = variables.get("flags")
    if not isinstance(shown, dict):
        return None
    client = variables.get("client") or {}
    rules_shown = variables.get("rules") or {}
    who = _first_name(variables)
    drafts = rule_cards(variables)
    raised = shown.get("raised") or []
    cards = [drafts[flag["key"]] for flag in raised if flag.get("key") in drafts]
    week = client.get("week", "the week")
    if shown.get("steady"):
        note = f"{week}: a steady week for {who}. {shown.get('summary') or ''}".strip()
        return ReviewAnswer(note=note[:2000], cards=[drafts[STEADY]])
    facts = " ".join(str(flag.get("facts", "")) for flag in raised)
    note = f"{week} for {who}: {facts}"
    cap = int(rules_shown.get("max_weekly_volume_change_pct") or 0)
    red = (shown.get("readiness") or {}).get("band") == Band.red
    change = None
    if (rules_shown.get("deload") or red) and cap:
        reason = "a deload" if rules_shown.get("deload") else "readiness is red"
        change = ChangeDraft(weekly_sets_change_pct=-cap, why=f"{reason.capitalize()}: take {cap} % off the weekly "
                                                              f"sets for a week so {who} can recover.")
        note += f" Proposed: weekly sets down {cap} % ({reason})."
    return ReviewAnswer(note=note[:2000], cards=cards, plan_change=change)


register_answerer(REVIEW_PROMPT, ReviewAnswer, answer_review_offline)
