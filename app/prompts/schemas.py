import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TEMPLATE_CHARS = 20_000


class PromptVersionOut(BaseModel):
    version: int
    source: Literal["default", "tenant"]
    description: str
    system: str
    user: str
    variables: list[str]
    active: bool
    created_at: datetime | None = Field(None, description="Null for shipped defaults")
    created_by_id: uuid.UUID | None = None


class ActivePrompt(BaseModel):
    source: Literal["default", "tenant"]
    version: int
    follows_latest_default: bool = Field(
        description="True when the tenant uses the shipped default and moves to newer defaults as they ship"
    )


class PromptSummary(BaseModel):
    key: str
    description: str
    variables: list[str] = Field(description="What callers pass; templates may use these and no others")
    active: ActivePrompt
    default_versions: int
    tenant_versions: int


class PromptDetail(PromptSummary):
    versions: list[PromptVersionOut] = Field(description="Shipped defaults first, then the tenant's, oldest first")


class PromptVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str = Field(min_length=1, max_length=MAX_TEMPLATE_CHARS)
    user: str = Field(min_length=1, max_length=MAX_TEMPLATE_CHARS)
    description: str = Field("", max_length=500)


class ActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["default", "tenant"] = "tenant"
    version: int | None = Field(
        None, ge=1, description="Required for a tenant version; omitted with source=default: follow the newest default"
    )

    @model_validator(mode="after")
    def _tenant_needs_version(self) -> Self:
        if self.source == "tenant" and self.version is None:
            raise ValueError("version is required to activate a tenant version")
        return self
