from fastapi import APIRouter, status

from app.auth import service
from app.auth.deps import CurrentContext, DbSession
from app.auth.schemas import Me, RefreshRequest, TokenPair, TokenRequest

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=TokenPair)
def issue_token(body: TokenRequest, session: DbSession) -> TokenPair:
    return service.login(session, body.email, body.password, body.tenant)


@router.post("/auth/refresh", response_model=TokenPair)
def rotate_refresh_token(body: RefreshRequest, session: DbSession) -> TokenPair:
    return service.refresh(session, body.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(body: RefreshRequest, session: DbSession) -> None:
    """Revoke the refresh token's login (its whole family); idempotent."""
    service.logout(session, body.refresh_token)


@router.get("/me", response_model=Me)
def read_me(session: DbSession, ctx: CurrentContext) -> Me:
    return service.me(session, ctx)
