import uuid

from fastapi import APIRouter, status

from app.api_keys import service
from app.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyCreate, session: DbSession, ctx: Authorized[Permission.manage_api_keys]):
    return service.create_key(session, ctx, body)


@router.get("", response_model=list[ApiKeyOut])
def list_api_keys(session: DbSession, ctx: Authorized[Permission.manage_api_keys]):
    return service.list_keys(session, ctx)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(key_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    service.revoke_key(session, ctx, key_id)
