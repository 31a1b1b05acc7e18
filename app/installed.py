"""What is installed: the modules that plug agents and domains into the engine, by name.

Each module registers what it provides when it is imported: an agent (`app.agents.registry.register`),
a run admission check or a model-call reader (`app.runs.hooks`), a review kind, a pipeline stage, a task
done by the process that commits it (`app.core.outbox.run_in_process`). The agent registry imports them on
first use, so no lower layer imports an agent or a domain, and adding one is a line here. `AGENT_PLUGINS` adds modules from outside app/ (a deployment's own agents, the test
suite's test agents).

The Celery worker loads the task modules listed here.
"""

from app.core.config import get_settings

INSTALLED: tuple[str, ...] = (
    "app.llm.hooks",
    "app.knowledge.ingestion",
    "app.agents.echo",
    "app.agents.sdr",
    "app.agents.sales",
    "app.agents.negotiation",
    "app.email.service",
    "app.negotiation.service",
    "app.invoices.service",
    "app.agents.finance",
    "app.coaching.service",
    "app.agents.coaching",
    "app.pipelines.tasks",
    "app.webhooks.tasks",
)

TASK_MODULES: tuple[str, ...] = (
    "app.runs.tasks",
    "app.reviews.tasks",
    "app.pipelines.tasks",
    "app.email.tasks",
    "app.coaching.tasks",
    "app.webhooks.tasks",
)


def installed_modules() -> tuple[str, ...]:
    return (*INSTALLED, *get_settings().agent_plugins)
