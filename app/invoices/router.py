import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import JSONResponse

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.core.idempotency import run_idempotently
from app.invoices import service
from app.invoices.schemas import CreditNoteCreate, CreditNoteOut, CreditNotePage, InvoiceDetail, InvoicePage
from app.invoices.state import InvoiceStatus

router = APIRouter(tags=["invoices"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
_IMMUTABLE = {409: {"description": "Always: an issued invoice is corrected by a credit note, a draft through its "
                                   "review"}}


@router.get("/invoices", response_model=InvoicePage)
def list_invoices(
    session: DbSession,
    ctx: Authorized[Permission.read],
    status_: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    deal_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InvoicePage:
    items, next_cursor = service.list_invoices(session, ctx, limit=limit, cursor=cursor, status=status_,
                                               deal_id=deal_id, client_id=client_id)
    return InvoicePage(items=items, next_cursor=next_cursor)


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail)
def read_invoice(invoice_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> InvoiceDetail:
    return service.read_invoice(session, ctx, invoice_id)


@router.patch("/invoices/{invoice_id}", status_code=status.HTTP_409_CONFLICT, responses=_IMMUTABLE)
def update_invoice(invoice_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    """Invoices are not edited here: an issued invoice is immutable (credit it instead), a draft changes only
    through its review (memo and payment terms)."""
    service.refuse_change(session, ctx, invoice_id)


@router.delete("/invoices/{invoice_id}", status_code=status.HTTP_409_CONFLICT, responses=_IMMUTABLE)
def delete_invoice(invoice_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    """Invoices are never deleted: an issued one is credited, a draft is cancelled by rejecting its review."""
    service.refuse_change(session, ctx, invoice_id)


@router.post("/invoices/{invoice_id}/credit-notes", status_code=status.HTTP_201_CREATED, response_model=CreditNoteOut,
             responses={409: {"description": "The invoice is not issued, or the Idempotency-Key is in flight"},
                        422: {"description": "More than is left to credit, an unknown line or rate, bad input"}})
def create_credit_note(invoice_id: uuid.UUID, body: CreditNoteCreate, session: DbSession, ctx: CurrentContext,
                       idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """A credit note against an issued invoice, by lines or by a net amount, numbered from the tenant's credit
    note series. Operators and above."""
    def produce() -> tuple[int, dict]:
        note = service.create_credit_note(session, ctx, invoice_id, body)
        invoice = service.get_invoice(session, ctx, invoice_id)
        return status.HTTP_201_CREATED, service.credit_note_out(note, invoice.number or "").model_dump(mode="json")

    result = run_idempotently(session, ctx, key=idempotency_key, scope=f"invoices/{invoice_id}/credit-notes",
                              body=body.model_dump(mode="json"), produce=produce)
    session.commit()
    return JSONResponse(result.body, status_code=result.status, headers=result.headers)


@router.get("/credit-notes", response_model=CreditNotePage)
def list_credit_notes(
    session: DbSession,
    ctx: Authorized[Permission.read],
    invoice_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CreditNotePage:
    items, next_cursor = service.list_credit_notes(session, ctx, limit=limit, cursor=cursor, invoice_id=invoice_id)
    return CreditNotePage(items=items, next_cursor=next_cursor)


@router.get("/credit-notes/{credit_note_id}", response_model=CreditNoteOut)
def read_credit_note(credit_note_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> CreditNoteOut:
    return service.read_credit_note(session, ctx, credit_note_id)
