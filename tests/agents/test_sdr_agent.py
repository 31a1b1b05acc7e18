"""The SDR agent through the real executor, on committed records, with the offline provider (the default)
and with a model behind a fake OpenAI endpoint."""

import uuid

from sqlalchemy import select

from app.core.db import session_scope
from app.models import EmailLog, LlmLog, Review
from app.runs import service as runs
from tests.agents.helpers import FIT_LEAD, POOR_LEAD
from tests.llm.fake_providers import Answer, FakeProvider

SDR_STEPS = ["load", "retrieve_icp", "judge", "record_qualification", "write_email", "open_email_review"]


def test_a_fitting_lead_is_qualified_and_its_first_email_waits_for_review(world):
    chunks = world.add_icp()
    lead_id = world.add_lead(**FIT_LEAD)

    run = world.run_agent("sdr", lead_id)

    assert run.status == "awaiting_review", run.error
    output = run.output
    assert (output["status"], output["score"], output["bucket"], output["offline"]) == ("qualified", 100, "hot", True)
    assert [c["verdict"] for c in output["criteria"]] == ["meets"] * 5
    assert {c["chunk_id"] for c in output["citations"]} <= set(chunks) and output["citations"]
    assert world.steps(run.id) == SDR_STEPS

    lead = world.lead(lead_id)
    assert (lead.status, lead.score, lead.bucket) == ("qualified", 100, "hot")
    assert lead.qualification["run_id"] == str(run.id) and len(lead.qualification["criteria"]) == 5

    [email] = world.rows(EmailLog, lead_id=lead_id)
    assert (email.id, email.status, email.to_address, email.run_id) == (
        uuid.UUID(output["email_id"]), "draft", lead.email, run.id)
    assert email.body.startswith("Hi Ada,") and "Analytical Engines" in email.body
    cited_chunks = {c["chunk_id"] for c in email.citations if c["source"] == "knowledge"}
    assert cited_chunks and cited_chunks <= set(chunks)

    [review] = world.rows(Review, entity_type="email", entity_id=email.id)
    assert (review.id, review.status, review.agent, review.run_id, review.requested_by_type) == (
        uuid.UUID(output["review_id"]), "pending", "sdr", run.id, "system")
    assert review.proposal == {"to_address": lead.email, "subject": email.subject, "body": email.body}
    assert email.review_id == review.id and "hot lead, score 100" in review.summary

    logs = world.rows(LlmLog, run_id=run.id)
    assert sorted((log.prompt_key, log.prompt_version, log.provider) for log in logs) == [
        ("sdr.first_email", 1, "offline"), ("sdr.qualify", 2, "offline")]


def test_a_poor_lead_is_disqualified_and_no_email_is_drafted(world):
    world.add_icp()
    lead_id = world.add_lead(**POOR_LEAD)

    run = world.run_agent("sdr", lead_id)

    assert run.status == "succeeded", run.error
    assert (run.output["status"], run.output["bucket"], run.output["email_id"]) == ("disqualified", "disqualified",
                                                                                    None)
    assert world.steps(run.id) == SDR_STEPS[:4]
    assert (world.lead(lead_id).status, world.lead(lead_id).bucket) == ("disqualified", "disqualified")
    assert world.rows(EmailLog, lead_id=lead_id) == [] and world.rows(Review, run_id=run.id) == []


def test_the_tenants_criteria_and_thresholds_decide(world):
    world.add_icp()
    world.set_settings(icp={"criteria": [
        {"name": "industry", "description": "A target industry of the profile", "weight": 1, "required": True},
        {"name": "company_size", "description": "Inside the profile's employee range", "weight": 3},
    ], "thresholds": {"hot": 90, "warm": 60, "cold": 30}})
    retail = world.add_lead(**{**FIT_LEAD, "industry": "retail"})
    bigger = world.add_lead(**{**FIT_LEAD, "email": None, "company_size": 700})

    excluded = world.run_agent("sdr", retail)
    partial = world.run_agent("sdr", bigger)

    # Retail is excluded by the profile and the criterion is required: disqualified despite the size.
    assert (excluded.status, excluded.output["score"], excluded.output["bucket"]) == ("succeeded", 75,
                                                                                     "disqualified")
    # 700 employees is just outside 50 to 500: partial, (1 + 3 x 0.5) / 4 = 62.5 -> 63, warm at these thresholds.
    assert (partial.status, partial.output["score"], partial.output["bucket"]) == ("awaiting_review", 63, "warm")

    world.set_settings(icp={"criteria": [{"name": "industry", "description": "x", "weight": 0}]})
    invalid = world.run_agent("sdr", world.add_lead(**{**FIT_LEAD, "email": None}))
    assert invalid.status == "failed" and invalid.error["code"] == "icp_settings_invalid"
    assert "greater than 0" in invalid.error["message"]


def test_without_an_icp_document_it_fails_and_a_retry_after_the_upload_succeeds(world):
    lead_id = world.add_lead(**FIT_LEAD)

    run = world.run_agent("sdr", lead_id)
    assert run.status == "failed" and run.error["code"] == "icp_missing" and not run.error["retryable"]
    assert "tags" in run.error["message"] and world.steps(run.id) == ["load"]

    world.add_icp()
    with session_scope(world.tenant.id) as session:
        runs.retry_run(session, world.ctx, run.id)
    retried = world.execute(run.id)
    assert retried.status == "awaiting_review" and retried.output["score"] == 100


def test_a_missing_lead_or_one_already_worked_fails_at_once(world):
    world.add_icp()
    missing = world.run_agent("sdr", uuid.uuid4())
    contacted = world.run_agent("sdr", world.add_lead(status="contacted", **FIT_LEAD))

    assert (missing.status, missing.error["code"], missing.attempt) == ("failed", "not_found", 1)
    assert (contacted.status, contacted.error["code"]) == ("failed", "lead_not_new")
    assert "'contacted'" in contacted.error["message"]


def _judgements(chunk: str, citation: str | None = None) -> dict:
    criteria = ["industry", "company_size", "geography", "buyer_role", "buying_intent"]
    return {"summary": "A strong fit.", "judgements": [
        {"criterion": name, "verdict": "meets", "evidence": "Stated in the profile.", "citation": citation or chunk}
        for name in criteria]}


def _email(chunk: str, body: str) -> dict:
    return {"subject": "Analytical Engines and Acme", "body": body,
            "claims": [{"text": "Analytical Engines has 120 employees", "citation": "lead.company_size"},
                       {"text": "Customers cut downtime", "citation": chunk}]}


def test_a_models_uncited_judgements_are_repaired_and_an_email_with_an_invented_number_is_refused(world, llm_env):
    chunk = next(chunk_id for chunk_id, text in world.add_icp().items() if "30%" in text)
    lead_id = world.add_lead(**FIT_LEAD)
    invented = _email(chunk, "Hi Ada, Analytical Engines and its 120 people could cut downtime by 45%.")
    honest = _email(chunk, "Hi Ada, teams like the 120 people at Analytical Engines cut downtime by 30%.")
    with FakeProvider("openai", Answer(_judgements(chunk, citation="a trade magazine")), Answer(_judgements(chunk)),
                      Answer(invented), Answer(invented)) as fake:
        llm_env(OPENAI_BASE_URL=fake.base_url)
        world.set_settings(llm={"provider": "openai", "model": "gpt-4o-mini"})
        run = world.run_agent("sdr", lead_id)

        assert run.status == "failed" and run.error["code"] == "output_invalid"
        assert "the email states 45" in run.error["message"]
        # Qualified (the repaired judgements), but no draft and no review: the refused answer was not recorded.
        assert world.steps(run.id) == SDR_STEPS[:4] and world.lead(lead_id).status == "qualified"
        assert world.rows(EmailLog, lead_id=lead_id) == []
        assert "a trade magazine" in str(fake.requests[1]) and "45" in str(fake.requests[3])

        fake.play(Answer(honest))
        with session_scope(world.tenant.id) as session:
            runs.retry_run(session, world.ctx, run.id)
        retried = world.execute(run.id)

    assert retried.status == "awaiting_review", retried.error
    assert fake.calls == 5  # the judgements were not asked again
    assert (retried.output["score"], retried.output["offline"]) == (100, False)
    [email] = world.rows(EmailLog, lead_id=lead_id)
    assert email.body == honest["body"]
    assert [log.error_code for log in world.rows(LlmLog, run_id=run.id)].count("business_rules") == 3
