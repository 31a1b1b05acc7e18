import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from starlette.datastructures import UploadFile

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.core.errors import UnsupportedMediaType
from app.core.idempotency import run_idempotently
from app.knowledge import service
from app.knowledge.parsing import content_hash, content_type_of
from app.knowledge.schemas import (
    MAX_TAGS, DocumentCreate, DocumentOut, DocumentPage, DocumentStatus, ReembedResult, SearchRequest, SearchResponse,
    Tags,
)

router = APIRouter(prefix="/knowledge", tags=["knowledge"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentCreate.model_json_schema()},
            "multipart/form-data": {"schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": ".txt, .md or .pdf"},
                    "title": {"type": "string", "maxLength": 300, "description": "Default: the file name"},
                    "tags": {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": MAX_TAGS},
                },
            }},
        },
    }
}


class _UploadFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = None
    tags: Tags = []


def _invalid(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)])


async def _read_upload(request: Request) -> service.NewDocument:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            body = DocumentCreate.model_validate_json(await request.body())
        except ValidationError as exc:
            raise _invalid(exc) from exc
        return await run_in_threadpool(service.text_document, body.title, body.content, body.content_type, body.tags)
    if media_type != "multipart/form-data":
        raise UnsupportedMediaType("Send the document as application/json or as a multipart/form-data file upload.")
    async with request.form(max_files=1, max_fields=MAX_TAGS + 1) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestValidationError([{"loc": ("body", "file"), "msg": "Field required: attach the document as "
                                           "a file part named 'file'", "type": "missing"}])
        try:
            fields = _UploadFields(title=form.get("title"), tags=form.getlist("tags"))
        except ValidationError as exc:
            raise _invalid(exc) from exc
        filename = upload.filename or ""
        content_type = content_type_of(filename)
        data = await upload.read()
    return await run_in_threadpool(service.file_document, filename, content_type, data, fields.title, fields.tags)


@router.post("/documents", status_code=status.HTTP_202_ACCEPTED, response_model=DocumentOut,
             openapi_extra=_UPLOAD_BODY,
             responses={200: {"model": DocumentOut,
                              "description": "The same content was uploaded before: that document"},
                        413: {"description": "Larger than the request body (JSON) or upload (file) limit"},
                        415: {"description": "Not JSON, a .txt, .md or .pdf file"},
                        422: {"description": "Invalid fields, empty or undecodable text, an unreadable or locked PDF"}})
async def create_document(request: Request, session: DbSession, ctx: Authorized[Permission.write_data],
                          idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Accept a document (JSON text or a file) and start its ingestion run; 202 with status `pending`."""
    new = await _read_upload(request)
    fingerprint = {"title": new.title, "content_type": new.content_type, "filename": new.filename, "tags": new.tags,
                   "content_hash": content_hash(new.content_type, new.payload)}

    def produce() -> tuple[int, dict]:
        out, started = service.create_document(session, ctx, new)
        return (status.HTTP_202_ACCEPTED if started else status.HTTP_200_OK), out.model_dump(mode="json")

    result = await run_in_threadpool(lambda: run_idempotently(
        session, ctx, key=idempotency_key, scope="knowledge/documents", body=fingerprint, produce=produce))
    return JSONResponse(result.body, status_code=result.status, headers=result.headers)


@router.get("/documents", response_model=DocumentPage)
def list_documents(
    session: DbSession,
    ctx: Authorized[Permission.read],
    status_: Annotated[DocumentStatus | None, Query(alias="status")] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    content_type: Annotated[str | None, Query(max_length=64)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DocumentPage:
    items, next_cursor = service.list_documents(session, ctx, limit=limit, cursor=cursor, status=status_, tag=tag,
                                                content_type=content_type)
    return DocumentPage(items=items, next_cursor=next_cursor)


@router.get("/documents/{document_id}", response_model=DocumentOut)
def read_document(document_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> DocumentOut:
    return service.get_document(session, ctx, document_id)


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(document_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    service.delete_document(session, ctx, document_id)


@router.post("/search", response_model=SearchResponse,
             responses={503: {"description": "The tenant's embedder (openai, ollama) cannot be reached"}})
def search(body: SearchRequest, session: DbSession, ctx: Authorized[Permission.read]) -> SearchResponse:
    return service.search(session, ctx, body)


@router.post("/reembed", status_code=status.HTTP_202_ACCEPTED, response_model=ReembedResult)
def reembed(session: DbSession, ctx: Authorized[Permission.write_data],
            idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Re-embed every ready document whose chunks are in another embedding space than the tenant's
    embedder's (after the deployment's default embedder changed; a tenant settings change does it itself)."""
    def produce() -> tuple[int, dict]:
        return status.HTTP_202_ACCEPTED, service.reembed(session, ctx).model_dump(mode="json")

    result = run_idempotently(session, ctx, key=idempotency_key, scope="knowledge/reembed", body={}, produce=produce)
    return JSONResponse(result.body, status_code=result.status, headers=result.headers)
