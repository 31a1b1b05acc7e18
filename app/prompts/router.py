from typing import Annotated

from fastapi import APIRouter, Path

from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.prompts import service
from app.prompts.registry import KEY_PATTERN
from app.prompts.schemas import ActivateIn, PromptDetail, PromptSummary, PromptVersionIn

router = APIRouter(prefix="/prompts", tags=["prompts"])
PromptKey = Annotated[str, Path(pattern=f"^{KEY_PATTERN}$", max_length=128)]


@router.get("", response_model=list[PromptSummary])
def list_prompts(session: DbSession, ctx: Authorized[Permission.read]):
    return service.list_prompts(session, ctx)


@router.get("/{key}", response_model=PromptDetail)
def read_prompt(key: PromptKey, session: DbSession, ctx: Authorized[Permission.read]):
    return service.get_prompt(session, ctx, key)


@router.put("/{key}", response_model=PromptDetail, summary="Save a new version of a prompt and activate it")
def put_prompt(key: PromptKey, body: PromptVersionIn, session: DbSession, ctx: Authorized[Permission.manage_prompts]):
    return service.create_version(session, ctx, key, body)


@router.post("/{key}/activate", response_model=PromptDetail, summary="Roll a prompt back or forward to a version")
def activate_prompt(key: PromptKey, body: ActivateIn, session: DbSession,
                    ctx: Authorized[Permission.manage_prompts]):
    return service.activate(session, ctx, key, body)
