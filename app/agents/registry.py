"""Every agent the engine can run, by name."""

import importlib

from app.agents.base import Agent
from app.agents.echo import EchoAgent
from app.core.config import get_settings
from app.core.errors import NotFound
from app.knowledge.ingestion import KnowledgeIngestAgent

_AGENTS: dict[str, Agent] = {}


def register(agent: Agent) -> Agent:
    if agent.name in _AGENTS:
        raise ValueError(f"agent {agent.name!r} is registered twice")
    _AGENTS[agent.name] = agent
    return agent


def get_agent(name: str) -> Agent:
    try:
        return _AGENTS[name]
    except KeyError:
        raise NotFound(f"There is no agent named '{name}'.") from None


def public_agent(name: str) -> Agent:
    agent = _AGENTS.get(name)
    if agent is None or not agent.public:
        raise NotFound(f"There is no agent named '{name}'. Available: {', '.join(public_names())}.")
    return agent


def public_names() -> list[str]:
    return sorted(name for name, agent in _AGENTS.items() if agent.public)


def all_agents() -> list[Agent]:
    return list(_AGENTS.values())


def _load_plugins() -> None:
    for module in get_settings().agent_plugins:
        importlib.import_module(module)


register(EchoAgent())
register(KnowledgeIngestAgent())
_load_plugins()
