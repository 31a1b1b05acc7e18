"""What the API names for a client to choose from: the review types with what an edit may change."""

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
