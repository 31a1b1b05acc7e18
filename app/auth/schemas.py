import uuid

from pydantic import BaseModel, EmailStr, Field

from app.auth.permissions import Role


class TokenRequest(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(None, description="Tenant slug; needed only when the email has accounts in several tenants.")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    tenant_id: uuid.UUID
    tenant_slug: str
    principal_type: str
    id: uuid.UUID | None
    email: str | None = None
    name: str | None = None
    role: Role
