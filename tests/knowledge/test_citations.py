"""Agents cite what they used: a test-only agent retrieves through `retrieve()` and puts `citations()`
in its output; it runs through the real executor (claim, steps, outcome) against committed data."""

import uuid

from pydantic import BaseModel
from sqlalchemy import select

from app.agents.base import Agent, RunContext
from app.agents.registry import register
from app.core.context import TenantContext
from app.core.db import session_scope
from app.knowledge.retrieval import citations, retrieve, search
from app.knowledge.schemas import Citation
from app.models import AgentRun, DocumentChunk, RunStep
from app.runs import executor
from app.runs import service as runs
from app.runs.errors import PermanentError
from tests.builders import committed_tenant
from tests.knowledge.files import PRICE_BOOK_MD
from tests.knowledge.helpers import ingest


class QuestionInput(BaseModel):
    question: str
    tags: list[str] = []


class CitedAnswer(BaseModel):
    answer: str
    citations: list[Citation]


class CitingAgent(Agent[QuestionInput, CitedAnswer]):
    name = "test_citing"
    input_model, output_model = QuestionInput, CitedAnswer
    public = False

    def run(self, ctx: RunContext, payload: QuestionInput) -> CitedAnswer:
        hits = retrieve(ctx, "retrieve", payload.question, top_k=2, tags=payload.tags)
        if not hits:
            raise PermanentError("nothing in the knowledge base answers this", code="no_sources")
        return CitedAnswer(answer=hits[0].text.splitlines()[-1], citations=citations(hits))


register(CitingAgent())


def test_an_agent_puts_the_chunks_it_used_in_its_run_output(committed_db):
    tenant = committed_tenant(committed_db)
    ctx = TenantContext.system(tenant.id)
    with session_scope(tenant.id) as session:
        prices = ingest(session, tenant.id, "Price book", PRICE_BOOK_MD, content_type="text/markdown", tags=["pricing"])
        ingest(session, tenant.id, "Coaching guide", "Clients check in weekly with sleep, stress and mood.",
               tags=["coaching"])
        run = runs.create_run(session, ctx, "test_citing",
                              {"question": "How much does the call recorder add-on cost?", "tags": ["pricing"]})

    assert executor.execute(run.id, tenant.id, worker="test@local") == "succeeded"

    with session_scope(tenant.id) as session:
        finished = session.get_one(AgentRun, run.id)
        expected = search(session, ctx, "How much does the call recorder add-on cost?", top_k=2, tags=["pricing"])
        cited = [Citation.model_validate(citation) for citation in finished.output["citations"]]
        chunks = {chunk.id: chunk for chunk in session.scalars(
            select(DocumentChunk).where(DocumentChunk.id.in_([citation.chunk_id for citation in cited])))}
        stored = session.scalars(
            select(RunStep.result).where(RunStep.run_id == run.id, RunStep.name == "retrieve")).one()
    assert "call recorder add-on costs 12 EUR" in finished.output["answer"]
    assert [(c.document_id, c.chunk_id) for c in cited] == [(hit.document_id, hit.chunk_id) for hit in expected]
    assert all(chunks[c.chunk_id].document_id == c.document_id == prices.id for c in cited)
    assert cited[0].score >= cited[1].score > 0
    # The hits were recorded as a step: a re-executed run would cite these very chunks.
    assert [uuid.UUID(hit["chunk_id"]) for hit in stored] == [c.chunk_id for c in cited]


def test_an_agent_that_finds_nothing_to_cite_fails_permanently(committed_db):
    tenant = committed_tenant(committed_db)
    with session_scope(tenant.id) as session:
        run = runs.create_run(session, TenantContext.system(tenant.id), "test_citing", {"question": "anything"})
    assert executor.execute(run.id, tenant.id, worker="test@local") == "failed"
    with session_scope(tenant.id) as session:
        assert session.get_one(AgentRun, run.id).error["code"] == "no_sources"
