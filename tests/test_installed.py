"""app/installed.py: the modules it lists register themselves, and the registry imports them only when it
is first used (so nothing below the top layer imports an agent or a domain to get them registered)."""

import json
import subprocess
import sys

from app.core.config import PROJECT_ROOT

_PROBE = """
import json, sys
from app.agents import registry
from app.installed import INSTALLED
before = [module for module in INSTALLED if module in sys.modules]
agents = {agent.name: agent.public for agent in registry.all_agents()}
from app.llm.hooks import models_usable
from app.llm.service import run_model_calls
from app.runs import hooks
print(json.dumps({"before": before, "after": [m for m in INSTALLED if m not in sys.modules], "agents": agents,
                  "hooks": [models_usable in hooks._admission_checks, hooks._model_call_reader is run_model_calls]}))
"""


def test_installed_modules_register_themselves_when_the_registry_is_first_used():
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] == [] and seen["after"] == []
    assert seen["agents"]["echo"] is True and seen["agents"]["knowledge_ingest"] is False
    assert seen["hooks"] == [True, True]
