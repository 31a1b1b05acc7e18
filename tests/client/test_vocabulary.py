"""What the API names for a client to choose from: the review types with what an edit may change, and the
installed agents."""

import pytest

from app.auth.permissions import Role
from tests.client.conftest import connect

pytestmark = pytest.mark.slow


def test_review_kinds_say_which_fields_an_edit_may_change(api, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.viewer])

    kinds = {kind.entity_type: kind for kind in client.reviews.kinds()}

    assert kinds["email"].editable_fields == ["subject", "body"] and kinds["email"].locked_fields == ["to_address"]
    assert "price" in kinds["proposal"].locked_fields
    assert kinds["offer"].edit_schema["properties"]["message"]["type"] == "string"


def test_agents_are_listed_with_their_queue_and_input_schema(api, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.viewer])

    agents = {agent.name: agent for agent in client.agents.list()}

    assert agents["sdr"].queue == "agents.sdr" and agents["sdr"].may_need_review
    assert agents["sdr"].prompt_keys == ["sdr.qualify", "sdr.first_email"]
    assert "lead_id" in agents["sales"].input_schema["properties"]
    assert agents["knowledge_ingest"].public is False
