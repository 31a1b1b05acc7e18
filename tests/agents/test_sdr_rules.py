"""The SDR agent's guardrails, as plain functions: the ICP settings, the score and bucket computed in code,
the settling of the model's judgements, and the citation and number checks on the first email."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.agents.sdr import (
    DEFAULT_CRITERIA, Citable, Claim, CriterionJudgement, EmailDraft, IcpSettings, JudgeAnswer, Thresholds, assess,
    bucket, claim_citation_issues, icp_settings, judgement_issues, number_issues, score,
)
from app.leads.schemas import LeadBucket
from app.runs.errors import PermanentError
from tests.agents.helpers import FIT_LEAD, ICP_MD, hit

VERDICTS = ["meets", "partial", "misses", "unknown"]


def test_score_weights_the_verdicts():
    assert score([(Decimal(1), "meets"), (Decimal(1), "misses")]) == 50
    assert score([(Decimal(3), "meets"), (Decimal(1), "partial")]) == 88  # 3.5 / 4 = 87.5, half up
    assert score([(Decimal(2), "partial"), (Decimal(2), "unknown")]) == 25
    assert score([(Decimal(30), "meets"), (Decimal(25), "meets"), (Decimal(15), "misses"), (Decimal(15), "partial"),
                  (Decimal(15), "unknown")]) == 63  # 62.5
    assert score([]) == 0


@given(st.lists(st.tuples(st.integers(1, 1000).map(Decimal), st.sampled_from(VERDICTS)), min_size=1, max_size=20),
       st.integers(1, 50))
def test_score_is_bounded_and_does_not_depend_on_the_weights_scale(judged, factor):
    points = score(judged)
    assert 0 <= points <= 100
    assert score([(weight * factor, verdict) for weight, verdict in judged]) == points
    if all(verdict == "meets" for _, verdict in judged):
        assert points == 100
    if all(verdict in ("misses", "unknown") for _, verdict in judged):
        assert points == 0


@given(st.lists(st.tuples(st.integers(1, 100).map(Decimal), st.sampled_from(VERDICTS)), min_size=1, max_size=10),
       st.integers(0, 9))
def test_a_better_verdict_never_lowers_the_score(judged, position):
    position %= len(judged)
    weight, verdict = judged[position]
    better = VERDICTS[max(0, VERDICTS.index(verdict) - 1)] if verdict != "unknown" else "partial"
    improved = [*judged[:position], (weight, better), *judged[position + 1:]]
    assert score(improved) >= score(judged)


@pytest.mark.parametrize(("points", "expected"), [
    (100, "hot"), (70, "hot"), (69, "warm"), (45, "warm"), (44, "cold"), (20, "cold"), (19, "disqualified"),
    (0, "disqualified"),
])
def test_buckets_at_their_thresholds(points, expected):
    assert bucket(points, Thresholds()) == LeadBucket(expected)


def test_a_required_criterion_that_misses_disqualifies_whatever_the_score():
    assert bucket(95, Thresholds(), hard_miss=True) is LeadBucket.disqualified
    assert bucket(60, Thresholds(hot=90, warm=60, cold=30)) is LeadBucket.warm


def test_icp_settings_default_and_validate():
    assert [c.name for c in icp_settings({}).criteria] == [c.name for c in DEFAULT_CRITERIA]
    custom = icp_settings({"icp": {"criteria": [{"name": "industry", "description": "Manufacturing", "weight": 2,
                                                 "required": True}], "thresholds": {"hot": 80}}})
    assert custom.criteria[0].required and custom.thresholds == Thresholds(hot=80, warm=45, cold=20)
    for bad, message in [
        ({"criteria": [{"name": "a", "description": "x", "weight": 0}]}, "greater than 0"),
        ({"criteria": [{"name": "a", "description": "x", "weight": -3}]}, "greater than 0"),
        ({"criteria": []}, "at least 1"),
        ({"criteria": [{"name": "Size", "description": "x", "weight": 1},
                       {"name": "size", "description": "y", "weight": 1}]}, "repeated: size"),
        ({"thresholds": {"hot": 40, "warm": 45}}, "must decrease"),
        ({"criteria": [{"name": "a", "description": "x", "weight": 1, "wieght": 2}]}, "Extra inputs"),
    ]:
        with pytest.raises(PermanentError) as invalid:
            icp_settings({"icp": bad})
        assert invalid.value.code == "icp_settings_invalid" and message in invalid.value.message


def _citable():
    icp = hit(ICP_MD)
    return Citable.of(FIT_LEAD, [icp]), str(icp.chunk_id)


def test_citations_resolve_to_a_retrieved_chunk_or_a_lead_field_with_a_value():
    citable, chunk = _citable()
    assert citable.resolve(chunk.upper()) == chunk and citable.resolve(f"[{chunk}]") == chunk
    assert citable.resolve("lead.industry") == "lead.industry" == citable.resolve("industry")
    assert citable.resolve("lead.website") is None  # the lead has no website
    assert citable.resolve("lead.email") is None  # not citable: the model is not shown the address
    assert citable.resolve("00000000-0000-0000-0000-000000000000") is None
    assert citable.resolve(None) is None and citable.resolve("") is None


def test_judgement_issues_name_what_to_fix():
    citable, chunk = _citable()
    criteria = IcpSettings().criteria
    answer = JudgeAnswer(summary="s", judgements=[
        CriterionJudgement(criterion="Industry", verdict="meets", evidence="e", citation=chunk),
        CriterionJudgement(criterion="company_size", verdict="meets", evidence="e", citation="lead.company_size"),
        CriterionJudgement(criterion="company_size", verdict="meets", evidence="e", citation="lead.company_size"),
        CriterionJudgement(criterion="geography", verdict="misses", evidence="e", citation="https://example.com"),
        CriterionJudgement(criterion="budget", verdict="unknown", evidence="e"),
    ])
    issues = judgement_issues(answer, criteria, citable)
    assert issues == [
        "'company_size' is judged more than once",
        "the judgement of 'geography' cites 'https://example.com', which is neither the id of a retrieved source "
        "nor a lead field (lead.<field>)",
        "'budget' is not one of the criteria (industry, company_size, geography, buyer_role, buying_intent)",
        "no judgement for: buyer_role, buying_intent",
    ]


def test_assess_settles_the_judgements_in_code():
    citable, chunk = _citable()
    icp = IcpSettings.model_validate({"criteria": [
        {"name": "industry", "description": "d", "weight": 2},
        {"name": "geography", "description": "d", "weight": 1, "required": True},
        {"name": "buyer_role", "description": "d", "weight": 1},
    ]})
    answer = JudgeAnswer(summary="Fits.", judgements=[
        CriterionJudgement(criterion="INDUSTRY", verdict="meets", evidence="Manufacturing.", citation=chunk),
        CriterionJudgement(criterion="buyer_role", verdict="meets", evidence="VP.", citation="a press article"),
    ])
    settled = assess(icp, answer, citable)
    by_name = {result.criterion: result for result in settled.criteria}
    assert by_name["industry"].verdict == "meets" and by_name["industry"].contribution == Decimal("50.0")
    assert by_name["geography"].verdict == "unknown" and "no judgement" in by_name["geography"].evidence
    # An uncitable verdict does not count, and says why.
    assert by_name["buyer_role"].verdict == "unknown" and "Not counted" in by_name["buyer_role"].evidence
    assert (settled.score, settled.bucket, settled.hard_misses) == (50, LeadBucket.warm, [])

    missed = answer.model_copy(update={"judgements": [*answer.judgements, CriterionJudgement(
        criterion="geography", verdict="misses", evidence="US only.", citation="lead.country")]})
    disqualified = assess(icp, missed, citable)
    assert (disqualified.score, disqualified.bucket, disqualified.hard_misses) == (
        50, LeadBucket.disqualified, ["geography"])


def _draft(body: str, *claims: tuple[str, str], subject: str = "Analytical Engines and Acme") -> EmailDraft:
    return EmailDraft(subject=subject, body=body, claims=[Claim(text=t, citation=c) for t, c in claims])


def test_claims_must_cite_what_was_retrieved_or_a_lead_field():
    citable, chunk = _citable()
    fine = _draft("Hi Ada, you run operations at Analytical Engines.", ("Ada is VP Operations", "lead.title"),
                  ("We sell to manufacturers", chunk))
    assert claim_citation_issues(fine, citable) == []
    invented = _draft("Hi Ada, we helped Acme Corp last year.", ("We helped Acme Corp", "case-study-7"),
                      ("Ada has a website", "lead.website"))
    assert claim_citation_issues(invented, citable) == [
        "the claim 'We helped Acme Corp' cites 'case-study-7', which is neither the id of a retrieved source nor a "
        "lead field with a value (lead.<field>)",
        "the claim 'Ada has a website' cites 'lead.website', which is neither the id of a retrieved source nor a "
        "lead field with a value (lead.<field>)",
    ]


def test_numbers_must_come_from_a_cited_chunk_or_the_lead():
    citable, chunk = _citable()
    cited = _draft("Hi Ada, a team of 120 like yours cut downtime by 30%.", ("downtime cut by 30%", chunk),
                   ("120 employees", "lead.company_size"))
    assert number_issues(cited, citable) == []
    # The same number without citing the chunk that states it is refused.
    uncited = _draft("Hi Ada, a team of 120 like yours cut downtime by 30%.", ("120 employees", "lead.company_size"))
    assert number_issues(uncited, citable) == [
        "the email states 30, which neither a cited source nor the lead's fields contain: cite the source that "
        "states it, or leave it out"]
    invented = _draft("Hi Ada, 3 of your peers saved 1,200 hours.", ("peers", chunk), subject="Save 40 hours")
    assert [issue.split(",")[0] for issue in number_issues(invented, citable)] == [
        "the email states 3", "the email states 40", "the email states 1200"]
    # The sender's own name may hold a number.
    named = _draft("Hi Ada, greetings from Studio 54.", ("Ada", "lead.name"))
    assert number_issues(named, citable) != [] and number_issues(named, citable, also_known="Studio 54") == []
