import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.clients import service
from app.clients.schemas import ClientCreate, ClientOut, ClientPage, ClientPatch, ClientStatus

router = APIRouter(prefix="/clients", tags=["clients"])


@router.get("", response_model=ClientPage)
def list_clients(
    session: DbSession,
    ctx: Authorized[Permission.read],
    status_: Annotated[ClientStatus | None, Query(alias="status")] = None,
    coach_id: uuid.UUID | None = None,
    lead_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ClientPage:
    items, next_cursor = service.list_clients(session, ctx, limit=limit, cursor=cursor, status=status_,
                                              coach_id=coach_id, lead_id=lead_id)
    return ClientPage(items=items, next_cursor=next_cursor)


@router.post("", response_model=ClientOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "The lead already has a client"},
                        422: {"description": "Invalid fields, a coach who is not a user of the tenant, or an "
                                             "unknown lead"}})
def create_client(body: ClientCreate, session: DbSession, ctx: Authorized[Permission.write_data]) -> ClientOut:
    return service.create_client(session, ctx, body)


@router.get("/{client_id}", response_model=ClientOut)
def read_client(client_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> ClientOut:
    return service.read_client(session, ctx, client_id)


@router.patch("/{client_id}", response_model=ClientOut)
def update_client(client_id: uuid.UUID, body: ClientPatch, session: DbSession, ctx: CurrentContext) -> ClientOut:
    return service.update_client(session, ctx, client_id, body)
