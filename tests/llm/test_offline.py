"""The offline provider fills any output schema from the prompt's inputs, deterministically."""

import json
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from app.llm.providers.base import ModelRequest
from app.llm.providers.offline import OFFLINE_MARK, OfflineProvider

LEAD = {"lead": {"name": "Ada Lovelace", "company": "Analytical Engines", "email": "ada@engines.example",
                 "employees": 120, "industry": "manufacturing"}, "company": "Acme"}


def _answer(model: type[BaseModel], variables: dict) -> BaseModel:
    request = ModelRequest(model="offline-rules-1", system="s", messages=(("user", "u"),),
                           schema_name=model.__name__, json_schema=model.model_json_schema(), temperature=0,
                           max_output_tokens=100, variables=variables)
    response = OfflineProvider().complete(request)
    assert (response.input_tokens, response.output_tokens, response.finish_reason) == (0, 0, "offline")
    return model.model_validate_json(response.text)


class Citation(BaseModel):
    document: str
    chunk: int = Field(ge=0)
    score: float = Field(ge=0, le=1)


class Draft(BaseModel):
    subject: str = Field(min_length=5, max_length=60)
    body: str
    to: EmailStr


class Qualification(BaseModel):
    score: int = Field(ge=0, le=100)
    bucket: Literal["hot", "warm", "cold", "disqualified"]
    reasons: list[str] = Field(min_length=2, max_length=4)
    draft: Draft
    citations: list[Citation] = Field(default_factory=list)
    industry: str
    employees: int = Field(ge=1, le=100)
    discount: Decimal = Field(ge=0, le=Decimal("0.2"), decimal_places=2)
    follow_up: date
    needs_review: bool
    note: str | None = None


def test_any_schema_is_filled_validly_from_the_inputs():
    answer = _answer(Qualification, LEAD)
    assert answer.industry == "manufacturing"  # a field named like an input takes its value
    assert answer.employees == 100  # ... clamped to the schema's bounds
    assert answer.draft.to == "ada@engines.example"  # an e-mail field takes an address from the inputs
    assert 2 <= len(answer.reasons) <= 4 and len(set(answer.reasons)) == len(answer.reasons)
    assert all(reason.startswith(OFFLINE_MARK) for reason in answer.reasons)
    assert answer.draft.subject.startswith(OFFLINE_MARK) and len(answer.draft.subject) <= 60
    assert "Analytical Engines" in answer.draft.body
    assert answer.note is None and answer.citations == []  # optional fields keep their defaults


def test_the_same_inputs_give_the_same_answer_and_other_inputs_another():
    first = _answer(Qualification, LEAD)
    assert _answer(Qualification, json.loads(json.dumps(LEAD))) == first
    others = [_answer(Qualification, {**LEAD, "lead": {**LEAD["lead"], "name": f"Lead {n}"}}) for n in range(8)]
    assert len({(o.score, o.bucket) for o in others}) > 1


def test_without_inputs_it_still_answers():
    class Memo(BaseModel):
        memo: str = Field(min_length=40)
        lines: list[Citation] = Field(min_length=1)

    answer = _answer(Memo, {})
    assert answer.memo.startswith(OFFLINE_MARK) and len(answer.memo) >= 40
    assert len(answer.lines) >= 1
