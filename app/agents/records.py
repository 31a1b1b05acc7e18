"""What the business agents read from the records: a lead (a missing one is a permanent error, not a
retry), the lead's facts that a model may see and cite, the tenant's name and settings, and where a run
came from (its pipeline and who started it), which the reviews an agent opens carry on."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.core.errors import Conflict, NotFound, UnprocessableEntity
from app.leads import service as leads
from app.models import AgentRun, Lead, Tenant
from app.runs.errors import PermanentError

# The lead's fields a model is shown and may cite as "lead.<field>". Not the address: the model does not
# need it to judge or write, and code sets the recipient.
CITABLE_LEAD_FIELDS = ("name", "company", "title", "industry", "company_size", "country", "website", "source",
                       "notes")


class RunOrigin(BaseModel):
    pipeline_id: uuid.UUID | None
    requested_by_type: str
    requested_by_id: uuid.UUID | None


class TenantFacts(BaseModel):
    name: str
    settings: dict[str, Any]


def lead_facts(lead: Lead) -> dict[str, Any]:
    """The lead's citable fields that have a value."""
    values = {field: getattr(lead, field) for field in CITABLE_LEAD_FIELDS}
    return {field: value for field, value in values.items() if value not in (None, "")}


@contextmanager
def business_errors() -> Iterator[None]:
    """A domain's 404, 409 or 422 inside an agent's step is a permanent failure of the run: another attempt
    would meet the same records in the same state. (Unclassified errors are retried, then dead-lettered.)"""
    try:
        yield
    except NotFound as exc:
        raise PermanentError(exc.detail, code="not_found") from exc
    except Conflict as exc:
        raise PermanentError(exc.detail, code="conflict") from exc
    except UnprocessableEntity as exc:
        raise PermanentError(exc.detail, code="invalid_record") from exc


def load_lead(session: Session, ctx: TenantContext, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead:
    with business_errors():
        return leads.get_lead(session, ctx, lead_id, for_update=for_update)


def tenant_facts(session: Session, tenant_id: uuid.UUID) -> TenantFacts:
    tenant = session.get_one(Tenant, tenant_id)
    return TenantFacts(name=tenant.name, settings=tenant.settings or {})


def run_origin(session: Session, run_id: uuid.UUID) -> RunOrigin:
    run = session.get_one(AgentRun, run_id)
    return RunOrigin(pipeline_id=run.pipeline_id, requested_by_type=run.requested_by_type,
                     requested_by_id=run.requested_by_id)
