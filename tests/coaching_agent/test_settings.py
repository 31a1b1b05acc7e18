"""`settings.coaching`: defaults, the checks PATCH /api/v1/tenant applies (a 422 naming the field, nothing
changed), and a valid section stored."""

import pytest
from pydantic import ValidationError

from app.auth.permissions import Role
from app.coaching.settings import CoachingSettings
from tests.builders import make_tenant


def test_the_defaults():
    defaults = CoachingSettings()

    assert (defaults.adherence_threshold_pct, defaults.deload_red_days, defaults.max_weekly_volume_change_pct,
            defaults.review_weekday, defaults.review_hour) == (70, 3, 10, "mon", 7)
    assert (defaults.readiness.green_min_delta, defaults.readiness.amber_min_delta) == (-5, -15)
    assert (defaults.nutrition.calories_kcal.min, defaults.nutrition.calories_kcal.max) == (1200, 4000)


@pytest.mark.parametrize("section", [
    {"readiness": {"green_min_delta": -20, "amber_min_delta": -10}},
    {"nutrition": {"protein_g": {"min": 200, "max": 100}}},
    {"review_weekday": "monday"}, {"review_hour": 24}, {"deload_red_days": 0},
    {"max_weekly_volume_change_pct": 80}, {"adherence_threshold_pct": 101}, {"surprise": 1},
])
def test_invalid_sections_are_refused(section):
    with pytest.raises(ValidationError):
        CoachingSettings.model_validate(section)


def test_patching_a_bad_coaching_section_is_a_422_naming_the_field_and_a_good_one_is_kept(db, client):
    tenant = make_tenant(db)
    admin = tenant.headers(Role.admin)

    bad = client.patch("/api/v1/tenant", headers=admin, json={"settings": {"coaching": {"review_hour": 25}}})
    good = client.patch("/api/v1/tenant", headers=admin, json={"settings": {"coaching": {
        "review_weekday": "sun", "review_hour": 18, "max_weekly_volume_change_pct": 5}}})

    assert bad.status_code == 422, bad.text
    assert [error["field"] for error in bad.json()["errors"]] == ["settings.coaching.review_hour"]
    assert good.status_code == 200, good.text
    assert good.json()["settings"]["coaching"]["review_weekday"] == "sun"
