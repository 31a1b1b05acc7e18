import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.core.errors import UnsupportedMediaType
from app.leads import csv_import, service
from app.leads.schemas import LEAD_FIELDS, LeadBucket, LeadCreate, LeadImportResult, LeadOut, LeadPage, LeadPatch
from app.leads.state import LeadStatus

router = APIRouter(prefix="/leads", tags=["leads"])

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary", "description": (
                f"A UTF-8 CSV, header row first, columns among {', '.join(LEAD_FIELDS)} (name and email "
                f"required); comma, semicolon or tab separated; at most {csv_import.MAX_ROWS} rows and "
                f"{csv_import.MAX_BYTES} bytes")}},
        }}},
    }
}


@router.get("", response_model=LeadPage)
def list_leads(
    session: DbSession,
    ctx: Authorized[Permission.read],
    status_: Annotated[LeadStatus | None, Query(alias="status")] = None,
    bucket: LeadBucket | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200,
                                   description="Part of the name, email or company")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LeadPage:
    items, next_cursor = service.list_leads(session, ctx, limit=limit, cursor=cursor, status=status_, bucket=bucket,
                                            q=q)
    return LeadPage(items=items, next_cursor=next_cursor)


@router.post("", response_model=LeadOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "A lead with this email exists in the tenant"}})
def create_lead(body: LeadCreate, session: DbSession, ctx: Authorized[Permission.write_data]) -> LeadOut:
    return service.create_lead(session, ctx, body)


@router.post("/import", response_model=LeadImportResult, openapi_extra=_IMPORT_BODY,
             responses={413: {"description": "More rows or bytes than an import takes"},
                        415: {"description": "Not a multipart upload of a CSV file"},
                        422: {"description": "Unreadable file, or a header with missing or unknown columns"}})
async def import_leads(request: Request, session: DbSession,
                       ctx: Authorized[Permission.write_data]) -> LeadImportResult:
    """Create or update (matched by email) one lead per row; the answer has each row's outcome. A bad row
    is reported and changes nothing; the other rows are kept."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise UnsupportedMediaType("Upload the CSV as multipart/form-data, in a file part named 'file'.")
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestValidationError([{"loc": ("body", "file"), "type": "missing",
                                           "msg": "Field required: attach the CSV as a file part named 'file'"}])
        filename, content_type = upload.filename or "", (upload.content_type or "").lower()
        data = await upload.read(csv_import.MAX_BYTES + 1)
    return await run_in_threadpool(service.import_leads, session, ctx, data, filename, content_type)


@router.get("/{lead_id}", response_model=LeadOut)
def read_lead(lead_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> LeadOut:
    return service.read_lead(session, ctx, lead_id)


@router.patch("/{lead_id}", response_model=LeadOut,
              responses={409: {"description": "The email is taken, or the status move is not allowed"}})
def update_lead(lead_id: uuid.UUID, body: LeadPatch, session: DbSession, ctx: CurrentContext) -> LeadOut:
    return service.update_lead(session, ctx, lead_id, body)


@router.delete("/{lead_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_lead(lead_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    service.delete_lead(session, ctx, lead_id)
