"""`generate(…, refuse_issues=True)`: business issues left after the repair fail the call and leave the
step unrecorded, so a retried run asks the model again instead of reading the refused answer back."""

import pytest
from sqlalchemy import func, select

from app.core.db import session_scope
from app.models import RunStep
from app.runs.errors import PermanentError
from tests.llm.fake_providers import Answer, FakeProvider
from tests.llm.scenario import GOOD, point, qualify


def _no_hot_leads(answer) -> list[str]:
    return ["a hot bucket is not allowed here"] if answer.bucket == "hot" else []


def test_remaining_issues_fail_the_call_and_record_no_step(llm_run, llm_settings):
    with FakeProvider("openai", Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai"})
        with pytest.raises(PermanentError) as refused:
            qualify(world, validators=[_no_hot_leads], refuse_issues=True)
        assert fake.calls == 2  # the answer and its repair attempt

        fake.play(Answer({**GOOD, "bucket": "warm", "score": 60}))
        accepted = qualify(world, attempt=2, validators=[_no_hot_leads], refuse_issues=True)

    assert refused.value.code == "output_invalid" and "a hot bucket is not allowed" in refused.value.message
    assert accepted.output.bucket == "warm" and accepted.issues == []
    assert [r.error_code for r in world.logs()] == ["business_rules", "business_rules", None]
    with session_scope(world.tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(RunStep).where(RunStep.run_id == world.run_id)) == 1
