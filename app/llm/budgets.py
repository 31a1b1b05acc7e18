"""Monthly token and cost budgets per tenant, checked when a run is enqueued and before every model call.

Usage is this calendar month's (UTC) sum over llm_logs, read from llm_usage_daily, which the same
transaction as every llm_logs row updates: a few dozen rows instead of a month of log rows, so the check
costs one index range scan whatever the volume. Tokens are input plus output tokens (cached input
included: it is still input the provider processed).

The check is not a reservation: runs already past it finish their call, so a month can overshoot by at
most one call per concurrently running run. The next call of every run then fails with budget_exceeded.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.db import Script
from app.core.errors import AppError, UnprocessableEntity
from app.llm.config import LlmConfig, LlmConfigError, load_config
from app.models import LlmUsageDaily
from app.runs.errors import PermanentError


class BudgetExceeded(AppError):
    """402: the request is valid, but the tenant's model budget for this month is spent. Raising the budget
    (PATCH /api/v1/tenant, settings.llm.budgets) or the new month makes the same request succeed."""

    status, title = 402, "LLM budget exceeded"
    type = "https://agentline.dev/problems/llm-budget-exceeded"


class InvalidLlmConfig(UnprocessableEntity):
    title = "Invalid LLM configuration"
    type = "https://agentline.dev/problems/llm-config-invalid"


@dataclass(frozen=True)
class MonthUsage:
    tokens: int
    cost_usd: Decimal


def month_start(today: date | None = None) -> date:
    return (today or datetime.now(UTC).date()).replace(day=1)


def month_usage_query(tenant_id: Any, since: Any) -> Select:
    """One row: `tokens` and `cost_usd` used since `since` (the month's first day). Both arguments may be
    values or bind parameters (a statement built once)."""
    return select(
        func.coalesce(func.sum(LlmUsageDaily.input_tokens + LlmUsageDaily.output_tokens), 0).label("tokens"),
        func.coalesce(func.sum(LlmUsageDaily.cost_usd), 0).label("cost_usd"),
    ).where(LlmUsageDaily.tenant_id == tenant_id, LlmUsageDaily.day >= since)


# `month_usage_query` as SQL text, for the one-round-trip scripts of app.core.db (the model-call path):
# parameters %(tenant_id)s and %(month_start)s, the same columns. Keep the two in step.
MONTH_USAGE_SQL = """
SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens, coalesce(sum(cost_usd), 0) AS cost_usd
  FROM llm_usage_daily
 WHERE tenant_id = %(tenant_id)s::uuid AND day >= %(month_start)s::date"""
_MONTH_USAGE = Script(MONTH_USAGE_SQL)


def month_usage(session: Session, tenant_id: uuid.UUID) -> MonthUsage:
    tokens, cost = session.execute(month_usage_query(tenant_id, month_start())).one()
    return MonthUsage(int(tokens), Decimal(cost))


def exceeded(config: LlmConfig, usage: MonthUsage) -> str | None:
    """Why the budget is spent, or None."""
    if config.monthly_tokens is not None and usage.tokens >= config.monthly_tokens:
        return (f"This month's model token budget is spent: {usage.tokens:,} of {config.monthly_tokens:,} tokens "
                f"used. Raise settings.llm.budgets.monthly_tokens or wait for the next month.")
    if config.monthly_cost_usd is not None and usage.cost_usd >= config.monthly_cost_usd:
        return (f"This month's model cost budget is spent: ${usage.cost_usd:.2f} of ${config.monthly_cost_usd:.2f} "
                f"used. Raise settings.llm.budgets.monthly_cost_usd or wait for the next month.")
    return None


def usage_now(connection: psycopg.Connection, tenant_id: uuid.UUID, config: LlmConfig) -> MonthUsage | None:
    """This month's usage in one round trip (a script on a driver connection in no transaction), or None when
    `config` sets no budget: what the second and later attempts of a model call check before they are made."""
    if config.monthly_tokens is None and config.monthly_cost_usd is None:
        return None
    ((tokens, cost),) = _MONTH_USAGE.run(connection, tenant_id, {"month_start": month_start()})
    return MonthUsage(int(tokens), Decimal(cost))


def check_budget(session: Session, tenant_id: uuid.UUID, config: LlmConfig | None = None) -> None:
    """Before a model call: a spent budget is a permanent `budget_exceeded` error for the run."""
    if config is None:
        try:
            config = load_config(session, tenant_id, get_settings())
        except LlmConfigError as exc:
            raise PermanentError(str(exc), code="llm_config_invalid") from exc
    if config.monthly_tokens is None and config.monthly_cost_usd is None:
        return
    enforce(config, month_usage(session, tenant_id))


def enforce(config: LlmConfig, usage: MonthUsage) -> None:
    reason = exceeded(config, usage)
    if reason is not None:
        raise PermanentError(reason, code="budget_exceeded")


def ensure_can_enqueue(session: Session, ctx: TenantContext) -> None:
    """Before a run is accepted: 422 if the tenant's LLM settings cannot work, 402 if the budget is spent,
    so nobody waits for a run that can only fail."""
    try:
        config = load_config(session, ctx.tenant_id, get_settings())
    except LlmConfigError as exc:
        raise InvalidLlmConfig(f"{exc}. Fix settings.llm with PATCH /api/v1/tenant.") from exc
    if config.monthly_tokens is None and config.monthly_cost_usd is None:
        return
    reason = exceeded(config, month_usage(session, ctx.tenant_id))
    if reason is not None:
        raise BudgetExceeded(reason)
