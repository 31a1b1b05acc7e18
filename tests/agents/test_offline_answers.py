"""With the offline provider, the agents' prompts are answered by their rules, from the prompt's inputs:
output that reads like the product and passes the agents' own guardrails. Other prompts, and the same
prompt asked for another schema, keep the generic filler."""

import json

from pydantic import BaseModel

from app.agents import sales, sdr
from app.agents.sdr import DEFAULT_CRITERIA, Citable, IcpSettings
from app.llm.providers.base import ModelRequest
from app.llm.providers.offline import OFFLINE_MARK, OfflineProvider
from app.llm.structured import schema_of
from tests.agents.helpers import FIT_LEAD, ICP_MD, POOR_LEAD, PRICE_BOOK, hit

ICP = hit(ICP_MD)
SOURCES = [{"id": str(ICP.chunk_id), "title": ICP.title, "text": ICP.text}]
CRITERIA = [criterion.model_dump(mode="json") for criterion in DEFAULT_CRITERIA]


def _ask(prompt_key: str, model: type[BaseModel], variables: dict) -> BaseModel:
    name, schema = schema_of(model)
    request = ModelRequest(model="offline-rules-1", system="s", messages=(("user", "u"),), schema_name=name,
                           json_schema=schema, temperature=0, max_output_tokens=1000, variables=variables,
                           prompt_key=prompt_key)
    return model.model_validate(json.loads(OfflineProvider().complete(request).text))


def _judge(lead: dict) -> sdr.Qualification:
    answer = _ask(sdr.QUALIFY_PROMPT, sdr.JudgeAnswer, {"company": "Acme", "lead": lead, "criteria": CRITERIA,
                                                        "sources": SOURCES})
    citable = Citable.of(lead, [ICP])
    assert sdr.judgement_issues(answer, DEFAULT_CRITERIA, citable) == []
    return sdr.assess(IcpSettings(), answer, citable)


def test_a_fitting_lead_meets_the_criteria_citing_the_icp_sentences_that_say_so():
    qualification = _judge(FIT_LEAD)
    by_name = {result.criterion: result for result in qualification.criteria}
    assert {name: result.verdict for name, result in by_name.items()} == {
        "industry": "meets", "company_size": "meets", "geography": "meets", "buyer_role": "meets",
        "buying_intent": "meets"}
    assert by_name["industry"].citation == str(ICP.chunk_id)
    assert "manufacturing" in by_name["industry"].evidence and "We sell to mid-sized manufacturers" in \
        by_name["industry"].evidence
    assert "120 employees is inside the profile's 50 to 500 employees" in by_name["company_size"].evidence
    assert by_name["buying_intent"].citation == "lead.notes"
    assert (qualification.score, qualification.bucket) == (100, "hot")


def test_a_poor_lead_is_disqualified_with_the_reasons():
    qualification = _judge(POOR_LEAD)
    by_name = {result.criterion: result for result in qualification.criteria}
    assert by_name["industry"].verdict == "misses" and "excludes retail" in by_name["industry"].evidence
    assert by_name["geography"].verdict == "misses" and "the United States" in by_name["geography"].evidence
    assert by_name["company_size"].verdict == "misses"
    assert (qualification.score, qualification.bucket) == (0, "disqualified")


def test_an_unknown_fact_is_unknown_not_a_miss():
    lead = {"name": "Cy Doe", "company": "Cargo Co", "industry": "logistics", "company_size": 700}
    by_name = {result.criterion: result for result in _judge(lead).criteria}
    assert by_name["company_size"].verdict == "partial"  # just outside the range
    assert by_name["geography"].verdict == "unknown" and by_name["buyer_role"].verdict == "unknown"


def test_the_first_email_names_the_lead_and_cites_a_real_retrieved_fact():
    draft = _ask(sdr.EMAIL_PROMPT, sdr.EmailDraft, {"company": "Acme", "lead": FIT_LEAD, "sources": SOURCES,
                                                     "qualification": {"bucket": "hot", "score": 100}})
    assert draft.body.startswith("Hi Ada,") and "Analytical Engines" in draft.body and OFFLINE_MARK not in draft.body
    assert "Customers cut unplanned downtime by 30% in the first six months." in draft.body
    assert draft.subject == "Analytical Engines and Acme"
    assert {claim.citation for claim in draft.claims} >= {str(ICP.chunk_id), "lead.company", "lead.company_size"}
    citable = Citable.of(FIT_LEAD, [ICP])
    assert sdr.claim_citation_issues(draft, citable) == [] and sdr.number_issues(draft, citable, "Acme") == []


def test_the_proposal_picks_the_package_by_company_size_and_states_no_price():
    answer = _ask(sales.PROPOSAL_PROMPT, sales.ProposalAnswer, {
        "company": "Acme", "lead": FIT_LEAD, "qualification": {"bucket": "hot"}, "price_book": PRICE_BOOK})
    assert answer.package_code == "growth" and answer.summary.startswith("Growth for Analytical Engines.")
    assert "Onboarding workshop." in answer.scope and answer.next_steps[1] == "Acme: send the order form for Growth"
    packages = [sales.Package.model_validate(item) for item in PRICE_BOOK]
    assert sales.package_issues(answer, packages) == [] and sales.price_issues(answer, packages) == []
    small = _ask(sales.PROPOSAL_PROMPT, sales.ProposalAnswer, {
        "company": "Acme", "lead": {**FIT_LEAD, "company_size": 8}, "qualification": {}, "price_book": PRICE_BOOK})
    assert small.package_code == "starter"


class Other(BaseModel):
    reasons: list[str]


def test_other_schemas_and_inputs_it_cannot_use_get_the_generic_filler():
    filled = _ask(sdr.QUALIFY_PROMPT, Other, {"lead": FIT_LEAD, "criteria": CRITERIA, "sources": SOURCES})
    assert all(reason.startswith(OFFLINE_MARK) for reason in filled.reasons)
    declined = _ask(sdr.QUALIFY_PROMPT, sdr.JudgeAnswer, {"lead": "not a record", "criteria": CRITERIA})
    assert declined.judgements[0].evidence.startswith(OFFLINE_MARK)
