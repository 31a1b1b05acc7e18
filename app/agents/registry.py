"""Every agent the engine can run, by name.

Agents register themselves: a module calls `register(MyAgent())` when it is imported. The modules are
those app.installed lists (and AGENT_PLUGINS), imported on first use of the registry, so this module,
and the engine that uses it, import no agent and no domain.
"""

import importlib
import threading

from app.agents.base import Agent
from app.core.errors import NotFound

_AGENTS: dict[str, Agent] = {}
_loaded = False
_loading = threading.RLock()


def register(agent: Agent) -> Agent:
    if agent.name in _AGENTS:
        raise ValueError(f"agent {agent.name!r} is registered twice")
    _AGENTS[agent.name] = agent
    return agent


def load_installed() -> None:
    """Import every installed module, once per process; each registers what it provides."""
    global _loaded
    if _loaded:
        return
    with _loading:
        if _loaded:
            return
        # The manifest names modules and imports none of them; only the top layer lists what exists.
        from app.installed import installed_modules

        for module in installed_modules():
            importlib.import_module(module)
        _loaded = True


def get_agent(name: str) -> Agent:
    load_installed()
    try:
        return _AGENTS[name]
    except KeyError:
        raise NotFound(f"There is no agent named '{name}'.") from None


def public_agent(name: str) -> Agent:
    load_installed()
    agent = _AGENTS.get(name)
    if agent is None or not agent.public:
        raise NotFound(f"There is no agent named '{name}'. Available: {', '.join(public_names())}.")
    return agent


def public_names() -> list[str]:
    load_installed()
    return sorted(name for name, agent in _AGENTS.items() if agent.public)


def all_agents() -> list[Agent]:
    load_installed()
    return list(_AGENTS.values())
