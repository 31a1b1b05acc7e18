from fastapi import APIRouter

from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.tenants import service
from app.tenants.schemas import TenantOut, TenantPatch

router = APIRouter(tags=["tenant"])


@router.get("/tenant", response_model=TenantOut)
def read_tenant(session: DbSession, ctx: Authorized[Permission.read]):
    return service.get_tenant(session, ctx)


@router.patch("/tenant", response_model=TenantOut)
def update_tenant(body: TenantPatch, session: DbSession, ctx: Authorized[Permission.manage_tenant]):
    return service.update_tenant(session, ctx, body)
