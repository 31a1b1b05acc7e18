"""The shipped defaults and the template language: every file parses, rendering fails loudly."""

from pathlib import Path

import pytest

from app.prompts.registry import DefaultPrompts, PromptFileError, default_prompts, parse_prompt_file
from app.prompts.template import MissingVariable, TemplateError, parse


def test_every_shipped_default_parses_and_versions_count_from_one():
    prompts = default_prompts()
    assert {"sdr.qualify", "sales.proposal", "negotiation.counter", "finance.memo", "coaching.review"} <= set(
        prompts.keys())
    for key in prompts.keys():
        versions = prompts.versions(key)
        assert [p.version for p in versions] == list(range(1, len(versions) + 1))
        latest = prompts.latest(key)
        assert latest.description and latest.system.text.strip() and latest.user.text.strip()
        assert latest.variables, f"{key} uses no variables"


def test_render_places_strings_as_is_and_structures_as_json():
    template = parse("Hi {{ lead.name }} from {{company}}.\n{{ lead }}")
    text = template.render({"company": "Acme", "lead": {"name": "Ada", "size": 12}})
    assert text.startswith("Hi Ada from Acme.\n{\n")
    assert '"size": 12' in text
    assert template.variables == {"lead", "company"}


def test_a_missing_variable_raises_and_names_it():
    template = parse("Lead {{ lead.email }} for {{ company }}")
    with pytest.raises(MissingVariable) as missing:
        template.render({"lead": {"name": "Ada"}, "company": "Acme"})
    assert "lead.email" in str(missing.value) and "company, lead" in str(missing.value)
    with pytest.raises(MissingVariable):
        template.render({"lead": {"email": "a@b.co"}})


def test_a_malformed_placeholder_is_a_template_error():
    with pytest.raises(TemplateError):
        parse("Hello {{ lead name }}")
    # A closing pair alone (JSON in a prompt) is text, not an error.
    assert parse('Example: {"a": {"b": 1}}').render({}) == 'Example: {"a": {"b": 1}}'


def test_prompt_files_are_checked(tmp_path: Path):
    bad_name = tmp_path / "Sdr.md"
    bad_name.write_text("x")
    with pytest.raises(PromptFileError, match="named"):
        parse_prompt_file(bad_name)
    no_user = tmp_path / "demo.v1.md"
    no_user.write_text("---\ndescription: d\n---\n=== system ===\nS\n")
    with pytest.raises(PromptFileError, match="user"):
        parse_prompt_file(no_user)
    no_user.write_text("---\ndescription: d\n---\n=== system ===\nS {{ a }}\n=== user ===\nU {{ b.c }}\n")
    prompt = parse_prompt_file(no_user)
    assert (prompt.key, prompt.version, prompt.variables) == ("demo", 1, {"a", "b"})
    bad_name.unlink()
    (tmp_path / "demo.v3.md").write_text(no_user.read_text())
    with pytest.raises(PromptFileError, match="without gaps"):
        DefaultPrompts(tmp_path)
