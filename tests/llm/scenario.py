"""The scenario the LLM tests share: qualifying a lead with the shipped sdr.qualify prompt."""

from typing import Literal

from pydantic import BaseModel, Field

from app.llm.orchestrator import generate
from tests.llm.fake_providers import FakeProvider

KEY = "sdr.qualify"
VARIABLES = {
    "company": "Acme Analytics",
    "lead": {"name": "Ada Lovelace", "company": "Analytical Engines", "email": "ada@engines.example",
             "phone": "+44 20 7946 0958", "employees": 120},
    "sources": [{"id": "icp-1", "text": "We sell to manufacturers with 50 to 500 employees."}],
    "criteria": [{"name": "company_size", "description": "50 to 500 employees", "weight": 1, "required": False}],
}
GOOD = {"score": 82, "bucket": "hot", "reasons": ["120 employees is inside the ICP range"]}


class Qualification(BaseModel):
    score: int = Field(ge=0, le=100)
    bucket: Literal["hot", "warm", "cold", "disqualified"]
    reasons: list[str] = Field(min_length=1)


MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "ollama": "llama3.1"}
BASE_URL_SETTING = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL", "ollama": "OLLAMA_HOST"}


def point(llm_settings, *fakes: FakeProvider) -> None:
    llm_settings(**{BASE_URL_SETTING[fake.wire]: fake.base_url for fake in fakes})


def qualify(world, step: str = "qualify", attempt: int = 1, **extra):
    return generate(world.context(attempt), step=step, prompt_key=KEY, variables=VARIABLES,
                    output_model=Qualification, **extra)
