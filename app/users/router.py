import uuid

from fastapi import APIRouter, status

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.users import service
from app.users.schemas import UserCreate, UserOut, UserPatch

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut])
def list_users(session: DbSession, ctx: Authorized[Permission.read]):
    return service.list_users(session, ctx)


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: DbSession, ctx: Authorized[Permission.manage_users]):
    return service.create_user(session, ctx, body)


@router.patch("/{user_id}", response_model=UserOut)
def update_user(user_id: uuid.UUID, body: UserPatch, session: DbSession, ctx: CurrentContext):
    return service.update_user(session, ctx, user_id, body)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    service.delete_user(session, ctx, user_id)
