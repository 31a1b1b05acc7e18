import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.contracts import service
from app.contracts.schemas import ContractOut, ContractPage

router = APIRouter(prefix="/contracts", tags=["contracts"])


@router.get("", response_model=ContractPage)
def list_contracts(
    session: DbSession,
    ctx: Authorized[Permission.read],
    deal_id: uuid.UUID | None = None,
    lead_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ContractPage:
    contracts, next_cursor = service.list_contracts(session, ctx, limit=limit, cursor=cursor, deal_id=deal_id,
                                                    lead_id=lead_id)
    return ContractPage(items=[ContractOut.model_validate(c) for c in contracts], next_cursor=next_cursor)


@router.get("/{contract_id}", response_model=ContractOut)
def read_contract(contract_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> ContractOut:
    return ContractOut.model_validate(service.get_contract(session, ctx, contract_id))
