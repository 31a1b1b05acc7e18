"""`sdr`: qualifies a lead against the tenant's ideal-customer profile and drafts the first email.

    load ─► retrieve_icp ─► judge (model) ─► record_qualification ─► write_email (model) ─► open_email_review

- **load**: the lead (a missing lead, or one that is not `new`, is a permanent error), the tenant's name and
  ICP settings (`settings.icp`: weighted criteria and bucket thresholds), and where the run came from.
- **retrieve_icp**: hybrid search of the knowledge documents tagged `icp`; these chunks are what the
  judgements and the email may cite.
- **judge**: the model gives, per criterion, a verdict (meets, partial, misses, unknown), its evidence and
  a citation (a retrieved chunk's id or `lead.<field>`).
- **record_qualification**: CODE turns the verdicts into the 0-100 score (weighted; meets 1, partial ½,
  misses and unknown 0) and the bucket (thresholds; a `required` criterion that misses disqualifies), and
  writes them on the lead with its status, qualified or disqualified. A verdict whose citation is neither
  a retrieved chunk nor a lead field does not count. A disqualified lead ends here: succeeded, no email.
- **write_email**: the model writes subject, body and the claims it makes, each citing a retrieved chunk
  or a lead field. Refused (repaired once, then the run fails) when a claim cites something that was not
  retrieved, or the text states a number found in neither the cited chunks nor the lead's fields.
- **open_email_review**: the draft (`email_logs`) and its `email` review, in one transaction.

With the offline provider, both prompts are answered by the rules at the end of this file.
"""

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from sqlalchemy.orm import Session

from app.agents import facts
from app.agents.base import Agent, RunContext
from app.agents.records import (
    RunOrigin, business_errors, lead_facts, load_lead, run_origin, tenant_facts,
)
from app.agents.registry import register
from app.core.context import TenantContext
from app.email import service as email
from app.knowledge.retrieval import search
from app.knowledge.schemas import Citation, SearchHit
from app.leads import service as leads
from app.leads.schemas import LeadBucket
from app.leads.state import LeadStatus
from app.llm.orchestrator import Generation, generate
from app.llm.providers.offline import register_answerer
from app.runs.errors import PermanentError
from app.tenants.sections import register_section

AGENT_NAME = "sdr"
QUALIFY_PROMPT = "sdr.qualify"
EMAIL_PROMPT = "sdr.first_email"
ICP_TAG = "icp"
ICP_TOP_K = 5

# --- the tenant's ICP settings (settings.icp) ----------------------------------------------------------

Verdict = Literal["meets", "partial", "misses", "unknown"]
CREDIT: dict[str, Decimal] = {"meets": Decimal(1), "partial": Decimal("0.5"), "misses": Decimal(0),
                              "unknown": Decimal(0)}


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    weight: Decimal = Field(gt=0, le=1000, description="Relative weight; the score divides by the sum of weights")
    required: bool = Field(False, description="A lead that misses it is disqualified whatever its score")


class Thresholds(BaseModel):
    """Lowest score of each bucket; below `cold` a lead is disqualified."""

    model_config = ConfigDict(extra="forbid")

    hot: int = Field(70, ge=1, le=100)
    warm: int = Field(45, ge=1, le=100)
    cold: int = Field(20, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if not self.hot > self.warm > self.cold:
            raise ValueError(f"thresholds must decrease: hot ({self.hot}) > warm ({self.warm}) > cold ({self.cold})")
        return self


DEFAULT_CRITERIA = (
    Criterion(name="industry", weight=Decimal(30),
              description="The company is in an industry the ideal-customer profile targets."),
    Criterion(name="company_size", weight=Decimal(25),
              description="The company's number of employees is inside the range the profile names."),
    Criterion(name="geography", weight=Decimal(15),
              description="The company is in a country or region the profile says we serve."),
    Criterion(name="buyer_role", weight=Decimal(15),
              description="The contact's title is one of the buyer or decision-maker roles the profile names."),
    Criterion(name="buying_intent", weight=Decimal(15),
              description="The lead's notes or source show interest: a demo or pricing request, an evaluation."),
)


class IcpSettings(BaseModel):
    """A tenant's `settings.icp`. Every key is optional: the defaults above apply."""

    model_config = ConfigDict(extra="forbid")

    criteria: list[Criterion] = Field(default_factory=lambda: list(DEFAULT_CRITERIA), min_length=1, max_length=20)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("criteria")
    @classmethod
    def _unique_names(cls, criteria: list[Criterion]) -> list[Criterion]:
        names = [criterion.name.casefold() for criterion in criteria]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"criterion names must be unique; repeated: {', '.join(duplicates)}")
        return criteria


register_section("icp", IcpSettings)


def icp_settings(tenant_settings: dict[str, Any]) -> IcpSettings:
    """The tenant's ICP settings, or a permanent error that says what to fix."""
    try:
        return IcpSettings.model_validate(tenant_settings.get("icp") or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'icp'}: {e['msg']}" for e in exc.errors())
        raise PermanentError(f"The tenant's ICP settings (settings.icp) are invalid: {problems}. Fix them with "
                             "PATCH /api/v1/tenant.", code="icp_settings_invalid") from exc


# --- scoring: code, not the model ---------------------------------------------------------------------


def score(judged: Iterable[tuple[Decimal, Verdict]]) -> int:
    """0-100: the weighted share of the criteria met (meets 1, partial ½, misses and unknown 0), rounded
    half up."""
    pairs = list(judged)
    total = sum((weight for weight, _ in pairs), Decimal(0))
    if total <= 0:
        return 0
    earned = sum((weight * CREDIT[verdict] for weight, verdict in pairs), Decimal(0))
    return int((100 * earned / total).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def bucket(points: int, thresholds: Thresholds, *, hard_miss: bool = False) -> LeadBucket:
    """hot, warm, cold by the thresholds; disqualified below `cold`, or when a required criterion misses."""
    if hard_miss or points < thresholds.cold:
        return LeadBucket.disqualified
    if points >= thresholds.hot:
        return LeadBucket.hot
    return LeadBucket.warm if points >= thresholds.warm else LeadBucket.cold


# --- what may be cited ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Citable:
    """What this run's judgements and claims may cite: the retrieved chunks, by id, and the lead's fields
    that have a value, as `lead.<field>`."""

    lead: dict[str, Any]
    chunks: dict[str, SearchHit]

    @classmethod
    def of(cls, lead: dict[str, Any], hits: Iterable[SearchHit]) -> "Citable":
        return cls(lead, {str(hit.chunk_id): hit for hit in hits})

    def resolve(self, citation: str | None) -> str | None:
        """The canonical form of a citation ("lead.industry", a chunk id), or None if it cites nothing
        this run may cite."""
        if not citation:
            return None
        value = citation.strip().strip("[]()<>\"'` ").lower()
        field = value.removeprefix("lead.")
        if field in self.lead:
            return f"lead.{field}"
        value = value.removeprefix("chunk:").removeprefix("source:")
        return value if value in self.chunks else None

    def text_of(self, canonical: str) -> str:
        if canonical.startswith("lead."):
            return str(self.lead[canonical.removeprefix("lead.")])
        return self.chunks[canonical].text

    def citations(self, canonical: Iterable[str | None]) -> list[Citation]:
        """Knowledge citations of the chunks among `canonical`, in retrieval order."""
        wanted = set(canonical)
        return [Citation.from_hit(hit) for key, hit in self.chunks.items() if key in wanted]


# --- the model's answers ----------------------------------------------------------------------------


class CriterionJudgement(BaseModel):
    criterion: str = Field(description="The criterion's name, exactly as given")
    verdict: Verdict
    evidence: str = Field(max_length=600, description="One or two sentences: the facts the verdict rests on")
    citation: str | None = Field(
        None, description="The id of the retrieved source, or lead.<field>, the evidence comes from; "
                          "null only for an unknown verdict")


class JudgeAnswer(BaseModel):
    judgements: list[CriterionJudgement] = Field(min_length=1, max_length=20)
    summary: str = Field(max_length=600, description="Two sentences at most on the lead's fit, for the reviewer")


class Claim(BaseModel):
    text: str = Field(min_length=1, max_length=300, description="A factual statement the email makes")
    citation: str = Field(description="The id of the retrieved source, or lead.<field>, that states it")


class EmailDraft(BaseModel):
    subject: str = Field(min_length=3, max_length=150)
    body: str = Field(min_length=20, max_length=4000)
    claims: list[Claim] = Field(min_length=1, max_length=12)


def judgement_issues(answer: JudgeAnswer, criteria: Sequence[Criterion], citable: Citable) -> list[str]:
    """What the model must fix in its judgements: each criterion judged once, none invented, and every
    verdict other than unknown citing something this run retrieved or a lead field."""
    expected = {criterion.name.casefold(): criterion.name for criterion in criteria}
    issues, seen = [], set()
    for judgement in answer.judgements:
        key = judgement.criterion.strip().casefold()
        if key not in expected:
            issues.append(f"'{judgement.criterion}' is not one of the criteria ({', '.join(expected.values())})")
        elif key in seen:
            issues.append(f"'{judgement.criterion}' is judged more than once")
        seen.add(key)
        if judgement.verdict != "unknown" and citable.resolve(judgement.citation) is None:
            issues.append(f"the judgement of '{judgement.criterion}' cites {judgement.citation!r}, which is neither "
                          "the id of a retrieved source nor a lead field (lead.<field>)")
    missing = [name for key, name in expected.items() if key not in seen]
    if missing:
        issues.append(f"no judgement for: {', '.join(missing)}")
    return issues


def claim_citation_issues(draft: EmailDraft, citable: Citable) -> list[str]:
    """Every claim cites a retrieved chunk or a lead field that has a value."""
    return [f"the claim {claim.text!r} cites {claim.citation!r}, which is neither the id of a retrieved source "
            "nor a lead field with a value (lead.<field>)"
            for claim in draft.claims if citable.resolve(claim.citation) is None]


def number_issues(draft: EmailDraft, citable: Citable, also_known: str = "") -> list[str]:
    """Every number in the subject and body is stated by a cited chunk or by the lead's fields (or by
    `also_known`: the sender's own name)."""
    cited = {key for claim in draft.claims if (key := citable.resolve(claim.citation)) and not key.startswith("lead.")}
    known = facts.numbers_in(" ".join([also_known, *(str(value) for value in citable.lead.values()),
                                       *(citable.text_of(key) for key in cited)]))
    stated = facts.numbers_in(f"{draft.subject}\n{draft.body}")
    return [f"the email states {format(number, 'f')}, which neither a cited source nor the lead's fields "
            "contain: cite the source that states it, or leave it out"
            for number in sorted(stated - known)]


# --- the run's records ------------------------------------------------------------------------------


class Loaded(BaseModel):
    lead_id: uuid.UUID
    to_address: str
    lead: dict[str, Any]
    company: str
    icp: IcpSettings
    origin: RunOrigin


class CriterionResult(BaseModel):
    criterion: str
    weight: Decimal
    required: bool
    verdict: Verdict
    evidence: str
    citation: str | None = Field(description="A retrieved chunk's id or lead.<field>")
    contribution: Decimal = Field(description="Points this criterion adds to the 0-100 score")


class Qualification(BaseModel):
    score: int = Field(ge=0, le=100)
    bucket: LeadBucket
    criteria: list[CriterionResult]
    summary: str
    hard_misses: list[str] = Field(description="Required criteria the lead misses")


class EmailOpened(BaseModel):
    email_id: uuid.UUID
    review_id: uuid.UUID


class SdrInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: uuid.UUID


class SdrOutput(BaseModel):
    lead_id: uuid.UUID
    status: Literal["qualified", "disqualified"]
    score: int
    bucket: LeadBucket
    summary: str
    criteria: list[CriterionResult]
    email_id: uuid.UUID | None = None
    review_id: uuid.UUID | None = None
    email: EmailDraft | None = None
    citations: list[Citation] = Field(description="The retrieved ICP chunks the judgements and the email cite")
    offline: bool = Field(description="True when the offline rules answered instead of a model")
    confidence: float


def assess(icp: IcpSettings, answer: JudgeAnswer, citable: Citable) -> Qualification:
    """The model's judgements, settled by code: one per configured criterion (a missing one is unknown), a
    verdict whose citation is not citable does not count, then the score and the bucket."""
    given: dict[str, CriterionJudgement] = {}
    for judgement in answer.judgements:
        given.setdefault(judgement.criterion.strip().casefold(), judgement)
    total = sum((criterion.weight for criterion in icp.criteria), Decimal(0))
    results = []
    for criterion in icp.criteria:
        judgement = given.get(criterion.name.casefold())
        if judgement is None:
            verdict, evidence, citation = "unknown", "The model gave no judgement for this criterion.", None
        else:
            verdict, evidence, citation = judgement.verdict, judgement.evidence, citable.resolve(judgement.citation)
            if verdict != "unknown" and citation is None:
                evidence = (f"{evidence} [Not counted: it cites {judgement.citation or 'nothing'}, which is neither a "
                            "retrieved source nor a lead field.]")
                verdict = "unknown"
        contribution = (100 * criterion.weight * CREDIT[verdict] / total).quantize(Decimal("0.1"), ROUND_HALF_UP)
        results.append(CriterionResult(criterion=criterion.name, weight=criterion.weight, required=criterion.required,
                                       verdict=verdict, evidence=evidence, citation=citation,
                                       contribution=contribution))
    points = score((result.weight, result.verdict) for result in results)
    hard_misses = [result.criterion for result in results if result.required and result.verdict == "misses"]
    return Qualification(score=points, bucket=bucket(points, icp.thresholds, hard_miss=bool(hard_misses)),
                         criteria=results, summary=answer.summary, hard_misses=hard_misses)


def _load(session: Session, ctx: RunContext, lead_id: uuid.UUID) -> dict[str, Any]:
    lead = load_lead(session, ctx.context, lead_id)
    if lead.status != LeadStatus.new:
        raise PermanentError(f"Lead {lead_id} is '{lead.status}': the SDR agent qualifies new leads only.",
                             code="lead_not_new")
    tenant = tenant_facts(session, ctx.tenant_id)
    return Loaded(lead_id=lead.id, to_address=lead.email, lead=lead_facts(lead), company=tenant.name,
                  icp=icp_settings(tenant.settings), origin=run_origin(session, ctx.run_id)).model_dump(mode="json")


def icp_query(lead: dict[str, Any]) -> str:
    """What to ask the ICP documents about this lead."""
    country = facts.country_name(lead["country"]) if lead.get("country") else None
    about = " ".join(str(value) for value in (lead.get("industry"), lead.get("title"), country) if value)
    return f"ideal customer profile target industries company size regions buyer roles {about}".strip()


def _retrieve_icp(session: Session, ctx: TenantContext, lead: dict[str, Any]) -> list[dict[str, Any]]:
    hits = search(session, ctx, icp_query(lead), top_k=ICP_TOP_K, tags=[ICP_TAG])
    if not hits:
        # Raised inside the step, so nothing is recorded: a retry after the upload searches again.
        raise PermanentError("No ready knowledge document is tagged 'icp': upload the ideal-customer profile "
                             "(POST /api/v1/knowledge/documents with \"tags\": [\"icp\"]) and retry the run.",
                             code="icp_missing")
    return [hit.model_dump(mode="json") for hit in hits]


def _record_qualification(session: Session, ctx: TenantContext, loaded: Loaded, qualification: Qualification,
                          run_id: uuid.UUID, offline: bool) -> dict[str, Any]:
    target = LeadStatus.disqualified if qualification.bucket is LeadBucket.disqualified else LeadStatus.qualified
    with business_errors():
        lead = load_lead(session, ctx, loaded.lead_id, for_update=True)
        lead.score, lead.bucket = qualification.score, qualification.bucket.value
        lead.qualification = {**qualification.model_dump(mode="json", exclude={"score", "bucket"}),
                              "thresholds": loaded.icp.thresholds.model_dump(), "run_id": str(run_id),
                              "offline": offline}
        leads.change_status(session, ctx, lead, target)
    return {"status": target.value}


def _claim_sources(draft: EmailDraft, citable: Citable) -> list[dict[str, Any]]:
    """The email's citations as the draft and its review keep them: each claim with what it cites."""
    out = []
    for claim in draft.claims:
        key = citable.resolve(claim.citation)
        if key is None:
            continue
        if key.startswith("lead."):
            out.append({"claim": claim.text, "source": key, "value": citable.lead[key.removeprefix("lead.")]})
        else:
            hit = citable.chunks[key]
            out.append({"claim": claim.text, "source": "knowledge", "document_id": str(hit.document_id),
                        "chunk_id": key, "title": hit.title, "score": hit.score})
    return out


def _open_email_review(session: Session, ctx: TenantContext, loaded: Loaded, draft: EmailDraft, citable: Citable,
                       qualification: Qualification, run_id: uuid.UUID) -> dict[str, Any]:
    with business_errors():
        drafted = email.create_draft(session, ctx, lead_id=loaded.lead_id, to_address=loaded.to_address,
                                     subject=draft.subject, body=draft.body, citations=_claim_sources(draft, citable),
                                     run_id=run_id, pipeline_id=loaded.origin.pipeline_id)
        review = email.open_email_review(
            session, ctx, drafted, agent=AGENT_NAME,
            summary=f"First email to {loaded.lead.get('name')} ({qualification.bucket.value} lead, score "
                    f"{qualification.score}): {qualification.summary}",
            requested_by_type=loaded.origin.requested_by_type, requested_by_id=loaded.origin.requested_by_id)
    return EmailOpened(email_id=drafted.id, review_id=review.id).model_dump(mode="json")


def _prompt_sources(hits: Iterable[SearchHit]) -> list[dict[str, str]]:
    return [{"id": str(hit.chunk_id), "title": hit.title, "text": hit.text} for hit in hits]


def _judgements_for_prompt(qualification: Qualification) -> list[dict[str, Any]]:
    return [{"criterion": r.criterion, "verdict": r.verdict, "evidence": r.evidence, "citation": r.citation}
            for r in qualification.criteria]


class SdrAgent(Agent[SdrInput, SdrOutput]):
    name = AGENT_NAME
    input_model = SdrInput
    output_model = SdrOutput
    uses_models = True
    prompt_keys = (QUALIFY_PROMPT, EMAIL_PROMPT)
    description = ("Qualifies a lead against the tenant's ideal-customer profile (score and bucket computed in code) "
                   "and drafts a first email, every claim cited, for review.")

    def run(self, ctx: RunContext, payload: SdrInput) -> SdrOutput:
        loaded = Loaded.model_validate(ctx.step("load", lambda session: _load(session, ctx, payload.lead_id)))
        hits = [SearchHit.model_validate(hit) for hit in ctx.step(
            "retrieve_icp", lambda session: _retrieve_icp(session, ctx.context, loaded.lead))]
        citable = Citable.of(loaded.lead, hits)
        sources = _prompt_sources(hits)

        judged: Generation[JudgeAnswer] = generate(
            ctx, step="judge", prompt_key=QUALIFY_PROMPT, output_model=JudgeAnswer,
            variables={"company": loaded.company, "lead": loaded.lead, "sources": sources,
                       "criteria": [c.model_dump(mode="json") for c in loaded.icp.criteria]},
            validators=[lambda answer: judgement_issues(answer, loaded.icp.criteria, citable)])
        qualification = assess(loaded.icp, judged.output, citable)
        recorded = ctx.step("record_qualification", lambda session: _record_qualification(
            session, ctx.context, loaded, qualification, ctx.run_id, judged.offline))
        result = SdrOutput(lead_id=loaded.lead_id, status=recorded["status"], score=qualification.score,
                           bucket=qualification.bucket, summary=qualification.summary,
                           criteria=qualification.criteria, offline=judged.offline, confidence=judged.confidence,
                           citations=citable.citations(r.citation for r in qualification.criteria))
        if qualification.bucket is LeadBucket.disqualified:
            return result

        written: Generation[EmailDraft] = generate(
            ctx, step="write_email", prompt_key=EMAIL_PROMPT, output_model=EmailDraft, refuse_issues=True,
            variables={"company": loaded.company, "lead": loaded.lead, "sources": sources,
                       "qualification": {"bucket": qualification.bucket.value, "score": qualification.score,
                                         "criteria": _judgements_for_prompt(qualification)}},
            validators=[lambda draft: claim_citation_issues(draft, citable),
                        lambda draft: number_issues(draft, citable, also_known=loaded.company)])
        draft = written.output
        opened = EmailOpened.model_validate(ctx.step("open_email_review", lambda session: _open_email_review(
            session, ctx.context, loaded, draft, citable, qualification, ctx.run_id)))
        cited = [r.citation for r in qualification.criteria] + [c.citation for c in draft.claims]
        return result.model_copy(update={
            "email_id": opened.email_id, "review_id": opened.review_id, "email": draft,
            "citations": citable.citations(citable.resolve(c) for c in cited),
            "offline": judged.offline or written.offline, "confidence": min(judged.confidence, written.confidence)})

    def needs_review(self, output: SdrOutput) -> bool:
        return output.email_id is not None


register(SdrAgent())


# --- offline answers: the rules that answer both prompts without a model ---------------------------------

_NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|won't|don't|exclude[sd]?|excluding|avoid|except|outside|"
                       r"disqualif\w*)\b", re.IGNORECASE)
_INDUSTRY_CUES = re.compile(r"industr|sector|vertical|we sell to|customers are|target", re.IGNORECASE)
_ROLE_CUES = re.compile(r"buyer|decision|persona|champion|title|role|sponsor|report(?:s)? to|head of|\bvp|director|"
                        r"chief|founder|owner", re.IGNORECASE)
_SENIORITY = frozenset("head vp vice president director chief ceo coo cto cfo cro cmo cio founder cofounder owner "
                       "partner managing principal".split())
_STRONG_INTENT = re.compile(r"demo|pricing|price|quote|trial|evaluat|budget|proposal|rfp|asked|request|looking for|"
                            r"interested|shortlist", re.IGNORECASE)
_WEAK_INTENT = re.compile(r"webinar|download|event|conference|newsletter|whitepaper|visited|signed up", re.IGNORECASE)
_WARM_SOURCES = frozenset({"inbound", "website", "referral", "demo_request", "webinar", "event"})
_KINDS = (
    ("company_size", re.compile(r"size|employee|headcount|seats|staff", re.IGNORECASE)),
    ("industry", re.compile(r"industr|sector|vertical", re.IGNORECASE)),
    ("geography", re.compile(r"countr|region|geograph|location|territor", re.IGNORECASE)),
    ("buyer_role", re.compile(r"title|role|persona|buyer|decision|seniority|contact", re.IGNORECASE)),
    ("buying_intent", re.compile(r"intent|interest|timing|engag|need|budget|pain", re.IGNORECASE)),
)


def _quote(sentence: str, limit: int = 180) -> str:
    text = sentence if len(sentence) <= limit else sentence[:limit - 1].rsplit(" ", 1)[0] + "…"
    return f"“{text}”"


def _sentences(sources: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """(source id, sentence, negated) for every sentence of the sources, in order. A sentence is negated when
    it, or the heading it is under ("Who is not a fit"), excludes what it names."""
    return [(str(source.get("id")), sentence, bool(_NEGATION.search(f"{heading}\n{sentence}")))
            for source in sources for heading, sentence in facts.passages(str(source.get("text", "")))]


def criterion_kind(name: str, description: str) -> str | None:
    """Which lead fact a criterion is about, read from its name first, then from its description."""
    for text in (name.replace("_", " "), description):
        for kind, pattern in _KINDS:
            if pattern.search(text):
                return kind
    return None


def _judge_industry(lead: dict[str, Any], sources: list[dict[str, Any]]) -> tuple[Verdict, str, str | None]:
    industry = lead.get("industry")
    if not industry:
        return "unknown", "The lead record has no industry.", None
    lines = _sentences(sources)
    for source_id, sentence, negated in lines:
        if facts.mentions_all(sentence, industry):
            if negated:
                return "misses", f"The profile excludes {industry}: {_quote(sentence)}", source_id
            return "meets", f"{industry} is a target industry of the profile: {_quote(sentence)}", source_id
    for source_id, sentence, negated in lines:
        if _INDUSTRY_CUES.search(sentence) and not negated:
            evidence = f"The profile names its industries and {industry} is not among them: {_quote(sentence)}"
            return "misses", evidence, source_id
    return "unknown", f"The retrieved profile names no industries to compare {industry} with.", "lead.industry"


def _judge_size(lead: dict[str, Any], sources: list[dict[str, Any]]) -> tuple[Verdict, str, str | None]:
    size = lead.get("company_size")
    if not isinstance(size, int):
        return "unknown", "The lead record has no company size.", None
    for source_id, sentence, _negated in _sentences(sources):
        bounds = facts.size_range(sentence)
        if bounds is None:
            continue
        wanted = f"the profile's {facts.describe_range(bounds)} employees ({_quote(sentence)})"
        if facts.in_range(size, bounds):
            return "meets", f"{size} employees is inside {wanted}.", source_id
        if facts.near_range(size, bounds):
            return "partial", f"{size} employees is just outside {wanted}.", source_id
        return "misses", f"{size} employees is outside {wanted}.", source_id
    evidence = f"The retrieved profile states no company-size range to compare {size} employees with."
    return "unknown", evidence, "lead.company_size"


def _judge_geography(lead: dict[str, Any], sources: list[dict[str, Any]]) -> tuple[Verdict, str, str | None]:
    country = lead.get("country")
    if not country:
        return "unknown", "The lead record has no country.", None
    name = facts.country_phrase(country)
    lines = _sentences(sources)
    for source_id, sentence, negated in lines:
        phrase = facts.country_served(sentence, country)
        if phrase is not None:
            if negated:
                return "misses", f"The profile excludes {name}: {_quote(sentence)}", source_id
            return "meets", f"{name[:1].upper()}{name[1:]} is served ({phrase}): {_quote(sentence)}", source_id
    for source_id, sentence, negated in lines:
        if facts.names_a_region(sentence) and not negated:
            return "misses", f"The profile's regions do not include {name}: {_quote(sentence)}", source_id
    return "unknown", f"The retrieved profile names no countries or regions to compare {name} with.", "lead.country"


def _role_words(text: str) -> set[str]:
    return {word.removesuffix("s") if len(word) > 2 and not word.endswith("ss") else word
            for word in facts.stems(text)}


def _judge_role(lead: dict[str, Any], sources: list[dict[str, Any]]) -> tuple[Verdict, str, str | None]:
    title = lead.get("title")
    if not title:
        return "unknown", "The lead record has no title.", None
    words = _role_words(title)
    senior = bool(words & _SENIORITY)
    partial: tuple[str, str] | None = None
    first_cue: tuple[str, str] | None = None
    for source_id, sentence, negated in _sentences(sources):
        if negated or not _ROLE_CUES.search(sentence):
            continue
        if len(sentence.split()) >= 4:
            first_cue = first_cue or (source_id, sentence)
        shared = words & _role_words(sentence)
        if shared == words or shared - _SENIORITY and (senior or shared & _SENIORITY):
            return "meets", f"“{title}” is a buyer role the profile names: {_quote(sentence)}", source_id
        if shared and partial is None:
            partial = (source_id, sentence)
    if partial is not None:
        return "partial", f"“{title}” is close to a role the profile names: {_quote(partial[1])}", partial[0]
    if first_cue is not None:
        return "misses", f"“{title}” is not among the roles the profile names: {_quote(first_cue[1])}", first_cue[0]
    if senior:
        return "partial", f"“{title}” is a senior title, but the retrieved profile names no buyer roles.", "lead.title"
    return "unknown", f"The retrieved profile names no buyer roles to compare “{title}” with.", "lead.title"


def _judge_intent(lead: dict[str, Any], _sources: list[dict[str, Any]]) -> tuple[Verdict, str, str | None]:
    notes = str(lead.get("notes") or "")
    for sentence in facts.sentences(notes):
        if _STRONG_INTENT.search(sentence):
            return "meets", f"The notes show active interest: {_quote(sentence)}", "lead.notes"
    for sentence in facts.sentences(notes):
        if _WEAK_INTENT.search(sentence):
            return "partial", f"The notes show some engagement: {_quote(sentence)}", "lead.notes"
    source = str(lead.get("source") or "")
    if source.lower() in _WARM_SOURCES:
        return "partial", f"The lead came in through {source}.", "lead.source"
    return "unknown", "Nothing in the lead record shows interest yet.", "lead.notes" if notes else None


_JUDGES = {"industry": _judge_industry, "company_size": _judge_size, "geography": _judge_geography,
           "buyer_role": _judge_role, "buying_intent": _judge_intent}


def answer_qualify_offline(variables: dict[str, Any]) -> JudgeAnswer | None:
    """sdr.qualify by rules: each criterion is matched to the lead fact it is about (its name or
    description says: industry, size, geography, role, intent) and judged against the retrieved ICP text,
    citing the chunk whose sentence decided it. A criterion about nothing the rules know is unknown."""
    lead, criteria, sources = variables.get("lead"), variables.get("criteria"), variables.get("sources")
    if not isinstance(lead, dict) or not isinstance(criteria, list) or not isinstance(sources, list):
        return None
    judgements = []
    for criterion in criteria:
        if not isinstance(criterion, dict) or not criterion.get("name"):
            return None
        kind = criterion_kind(str(criterion["name"]), str(criterion.get("description", "")))
        verdict, evidence, citation = _JUDGES[kind](lead, sources) if kind else (
            "unknown", "No lead field speaks to this criterion; a person should judge it.", None)
        judgements.append(CriterionJudgement(criterion=criterion["name"], verdict=verdict, evidence=evidence[:600],
                                             citation=citation))
    if not judgements:
        return None
    by_verdict: dict[str, list[str]] = {}
    for judgement in judgements:
        by_verdict.setdefault(judgement.verdict, []).append(judgement.criterion.replace("_", " "))
    labels = (("meets", "meets"), ("partial", "partly meets"), ("misses", "misses"), ("unknown", "unknown"))
    parts = [f"{label} {', '.join(by_verdict[verdict])}" for verdict, label in labels if verdict in by_verdict]
    company = lead.get("company") or lead.get("name") or "The lead"
    return JudgeAnswer(judgements=judgements, summary=f"{company} {'; '.join(parts)}."[:600])


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


_OUTCOME = re.compile(r"\b(?:cut|cuts|save|saves|saved|reduce[sd]?|increase[sd]?|faster|grow|grew|improve[sd]?|"
                      r"halve[sd]?|double[sd]?|retain\w*|recommend\w*)\b|%", re.IGNORECASE)


def _facts_to_cite(lead: dict[str, Any], sources: list[dict[str, Any]]) -> tuple[
        tuple[str, str] | None, tuple[str, str] | None]:
    """(source id, sentence) pairs the email cites: the retrieved sentence naming the lead's industry, and
    one stating an outcome customers get (else the first that reads like a sentence), when there are."""
    readable = [(source_id, sentence) for source_id, sentence, negated in _sentences(sources)
                if len(sentence.split()) >= 6 and sentence[-1] in ".!" and not negated]
    industry = lead.get("industry")
    about_industry = next((c for c in readable if industry and facts.mentions_all(c[1], str(industry))), None)
    outcome = next((c for c in readable if _OUTCOME.search(c[1])), None)
    return about_industry, outcome or (None if about_industry else next(iter(readable), None))


def answer_first_email_offline(variables: dict[str, Any]) -> EmailDraft | None:
    """sdr.first_email by rules: addressed to the lead by first name, naming their company and what the
    lead record says about it, the ICP sentence naming their industry and one stating what customers get
    (both cited), and a call to action that is firmer for a hot lead. Every number in it comes from the
    lead's fields or a cited sentence."""
    lead, sources = variables.get("lead"), variables.get("sources")
    qualification = variables.get("qualification") or {}
    sender = str(variables.get("company") or "our team")
    if not isinstance(lead, dict) or not lead.get("name") or not isinstance(sources, list):
        return None
    first_name = str(lead["name"]).split()[0]
    company = lead.get("company")
    industry, size, country = lead.get("industry"), lead.get("company_size"), lead.get("country")
    claims = [Claim(text=f"The email is addressed to {lead['name']}", citation="lead.name")]
    introduction = f"I came across your profile, {first_name}."
    if company:
        described = ""
        claims = [Claim(text=f"{first_name} works at {company}", citation="lead.company")]
        if industry:
            described += f", {_article(str(industry))} {industry} company"
            claims.append(Claim(text=f"{company} is in {industry}", citation="lead.industry"))
        if size:
            described += f" with about {size} employees" if industry else f", a team of about {size}"
            claims.append(Claim(text=f"{company} has about {size} employees", citation="lead.company_size"))
        if country:
            place = facts.country_phrase(str(country))
            described += f" in {place}"
            claims.append(Claim(text=f"{company} is based in {place}", citation="lead.country"))
        introduction = f"I came across {company}{described}."
    about_industry, fact = _facts_to_cite(lead, sources)
    if about_industry is not None:
        introduction += f" That is the kind of company we work with at {sender}."
        claims.append(Claim(text=f"{sender} works with {industry} companies", citation=about_industry[0]))
    paragraphs = [f"Hi {first_name},", introduction]
    if fact is not None:
        paragraphs.append(fact[1])
        claims.append(Claim(text=fact[1][:300], citation=fact[0]))
    hot = qualification.get("bucket") == LeadBucket.hot.value
    paragraphs.append("Could we find time for a call this week to see whether we can help?" if hot else
                      f"Would a short call next week be useful, to see whether {sender} could help "
                      f"{company or 'you'} too?")
    paragraphs.append(f"Best regards,\n{sender}")
    subject = f"{company} and {sender}" if company else f"A question for {first_name}"
    return EmailDraft(subject=subject[:150], body="\n\n".join(paragraphs)[:4000], claims=claims[:12])


register_answerer(QUALIFY_PROMPT, JudgeAnswer, answer_qualify_offline)
register_answerer(EMAIL_PROMPT, EmailDraft, answer_first_email_offline)
