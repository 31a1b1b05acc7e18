"""Invoices and credit notes: drafts made from lines (totals computed by app.invoices.en16931), issued when
their `invoice` review is approved, read over HTTP; corrections are credit notes.

Issuing is one transaction (the review decision's): the stored totals checked against the EN 16931 rules
(422 naming the broken rules, nothing issued), the lead's client made if it has none and the lead moved to
`won`, the number taken from the tenant's series last (its row stays locked until commit), the invoice
issued, and the pipeline signalled. An issued invoice never changes (app.invoices.state); a credit note
corrects it, never crediting more than is left."""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.clients import service as clients
from app.core import money
from app.core.context import TenantContext
from app.core.errors import Conflict, UnprocessableEntity
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.core.signals import advance_pipeline
from app.deals import service as deals
from app.invoices import en16931
from app.invoices.numbering import Series, next_number
from app.invoices.schemas import (
    LOCKED_REVIEW_FIELDS, CreditNoteCreate, CreditNoteOut, CreditNoteRef, InvoiceDetail, InvoiceOut,
    InvoiceReviewContent, LineIn, LineOut, format_quantity,
)
from app.invoices.settings import finance_settings
from app.invoices.state import LIFECYCLE, InvoiceStatus, transition
from app.leads import service as leads
from app.leads.state import LeadStatus, can_transition
from app.models import CreditNote, Invoice, InvoiceLine, Review, Tenant
from app.reviews.registry import ReviewKind, register_kind
from app.reviews.service import open_review
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType

ENTITY_TYPE = "invoice"
_AUDITED = ("status", "number", "currency", "issue_date", "due_date", "memo", "client_id", "line_total", "tax_total",
            "total_with_tax", "amount_due")


class InvoiceRulesBroken(UnprocessableEntity):
    """The invoice's stored values break EN 16931 rules: it is not issued."""

    def __init__(self, rules: list[str]):
        super().__init__(f"The invoice breaks these EN 16931 rules and cannot be issued: {', '.join(rules)}.",
                         rules=rules)


def _invalid(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(f"{field}: {message}.", errors=[{"field": field, "message": message,
                                                                "type": "value_error"}])


def _amount(value: Decimal, currency: str) -> str:
    return money.format_amount(money.quantize(value, currency))


def _audited(invoice: Invoice) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(invoice, name) for name in _AUDITED}
    for name in ("line_total", "tax_total", "total_with_tax", "amount_due"):
        values[name] = _amount(values[name], invoice.currency)
    return {name: str(value) if isinstance(value, uuid.UUID | date) else value for name, value in values.items()}


def tenant_today(session: Session, tenant_id: uuid.UUID) -> date:
    """Today in the tenant's time zone: the issue date of what it issues now."""
    timezone = session.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "UTC"
    return datetime.now(ZoneInfo(timezone)).date()


# --- drafts --------------------------------------------------------------------------------------------


def create_draft(session: Session, ctx: TenantContext, *, currency: str, lines: Sequence[LineIn],
                 seller: dict[str, Any], buyer: dict[str, Any], memo: str = "", deal_id: uuid.UUID | None = None,
                 contract_id: uuid.UUID | None = None, client_id: uuid.UUID | None = None,
                 pipeline_id: uuid.UUID | None = None, run_id: uuid.UUID | None = None) -> Invoice:
    """A draft invoice (no number, no dates) with its lines and the totals computed from them. 422 for a
    currency EN 16931 cannot carry, no lines, or totals too large to store."""
    try:
        totals = en16931.compute([en16931.Line(line.description, line.quantity, line.unit_price, line.tax_rate)
                                  for line in lines], money.check_currency(currency))
    except ValueError as exc:
        raise UnprocessableEntity(f"The invoice cannot be drafted: {exc}.") from exc
    invoice = Invoice(
        id=uuid.uuid4(), tenant_id=ctx.tenant_id, deal_id=deal_id, contract_id=contract_id, client_id=client_id,
        pipeline_id=pipeline_id, run_id=run_id, status=InvoiceStatus.draft.value, number=None,
        currency=totals.currency, issue_date=None, due_date=None, seller=seller, buyer=buyer, memo=memo,
        line_total=totals.line_total, tax_total=totals.tax_total, total_with_tax=totals.total_with_tax,
        paid_amount=totals.paid_amount, rounding_amount=totals.rounding_amount, amount_due=totals.amount_due,
        tax_breakdown=totals.tax_breakdown, issued_at=None, credited_total=Decimal(0))
    session.add(invoice)
    session.flush()
    session.add_all(InvoiceLine(tenant_id=ctx.tenant_id, invoice_id=invoice.id, position=position,
                                description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                                tax_rate=line.tax_rate, net_amount=line.net_amount)
                    for position, line in enumerate(totals.lines, start=1))
    session.flush()
    audit.record(session, ctx, "invoice.draft", ENTITY_TYPE, invoice.id, after=_audited(invoice))
    return invoice


def get_invoice(session: Session, ctx: TenantContext, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice:
    """The tenant's invoice, locked for the rest of the transaction with `for_update`; 404 otherwise."""
    return get_or_404(session, ctx, Invoice, invoice_id, for_update=for_update, label="Invoice")


def lines_of(session: Session, invoice: Invoice) -> list[InvoiceLine]:
    return list(session.scalars(select(InvoiceLine).where(
        InvoiceLine.tenant_id == invoice.tenant_id, InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.position)))


def invoices_for_deal(session: Session, ctx: TenantContext, deal_id: uuid.UUID) -> list[Invoice]:
    return list(session.scalars(scoped(ctx, Invoice).where(Invoice.deal_id == deal_id)
                                .order_by(Invoice.created_at, Invoice.id)))


# --- issuing ---------------------------------------------------------------------------------------------


def issue(session: Session, ctx: TenantContext, invoice_id: uuid.UUID, *, memo: str | None = None,
          payment_terms_days: int | None = None) -> Invoice:
    """Issue a draft: checked (422 naming the broken EN 16931 rules), dated today in the tenant's time zone,
    due `payment_terms_days` later (default: `settings.finance.payment_terms_days`), numbered from the
    tenant's invoice series. For an invoice of a deal, the lead's client is made if it has none and the lead
    moves to `won`; the invoice's pipeline is signalled. Issuing an issued invoice again changes nothing;
    a cancelled one is a 409. Not authorised here: it is the effect of an approved review (the reviewer's
    right) or of a service that checked its caller."""
    invoice = get_invoice(session, ctx, invoice_id, for_update=True)
    if invoice.status == InvoiceStatus.issued:
        return invoice
    if invoice.status != InvoiceStatus.draft:
        raise LIFECYCLE.refuse(InvoiceStatus(invoice.status), InvoiceStatus.issued)
    before = _audited(invoice)
    if memo is not None:
        invoice.memo = memo
    broken = en16931.check(invoice, lines_of(session, invoice))
    if broken:
        raise InvoiceRulesBroken(broken)
    settings = finance_settings(session, ctx.tenant_id)
    today = tenant_today(session, ctx.tenant_id)
    days = settings.payment_terms_days if payment_terms_days is None else payment_terms_days
    if invoice.deal_id is not None:
        _make_client(session, ctx, invoice, start_date=today)
    invoice.number = next_number(session, ctx.tenant_id, Series.invoice, today.year)  # last: it locks the series
    transition(invoice, InvoiceStatus.issued)
    invoice.issue_date, invoice.due_date = today, today + timedelta(days=days)
    invoice.issued_at = datetime.now(UTC)
    session.flush()
    after = _audited(invoice)
    audit.record(session, ctx, "invoice.issue", ENTITY_TYPE, invoice.id, before=before, after=after)
    advance_pipeline(session, ctx.tenant_id, invoice.pipeline_id)
    webhooks.emit(session, ctx.tenant_id, EventType.invoice_issued, {
        "invoice_id": invoice.id, "client_id": invoice.client_id, "deal_id": invoice.deal_id,
        "pipeline_id": invoice.pipeline_id, **after})
    return invoice


def _make_client(session: Session, ctx: TenantContext, invoice: Invoice, *, start_date: date) -> None:
    """The deal's lead becomes a client (made from the lead if it has none) and moves to `won` when its life
    cycle allows it (from `proposal`; a lead already `won` stays)."""
    deal = deals.get_deal(session, ctx, invoice.deal_id)
    lead = leads.get_lead(session, ctx, deal.lead_id, for_update=True)
    client, _ = clients.ensure_client_for_lead(session, ctx, lead, deal_id=deal.id, start_date=start_date)
    if invoice.client_id is None:
        invoice.client_id = client.id
    if can_transition(LeadStatus(lead.status), LeadStatus.won):
        leads.change_status(session, ctx, lead, LeadStatus.won)


def cancel_draft(session: Session, ctx: TenantContext, invoice_id: uuid.UUID, reason: str) -> Invoice:
    """A draft that will not be issued ends `cancelled`. An invoice already issued or cancelled is left as it
    is: a pipeline cancelled after the issue cannot take the invoice back (a credit note can)."""
    invoice = get_invoice(session, ctx, invoice_id, for_update=True)
    if invoice.status != InvoiceStatus.draft:
        return invoice
    before = _audited(invoice)
    transition(invoice, InvoiceStatus.cancelled)
    session.flush()
    audit.record(session, ctx, "invoice.cancel", ENTITY_TYPE, invoice.id, before=before,
                 after={**_audited(invoice), "reason": reason})
    return invoice


def refuse_change(session: Session, ctx: TenantContext, invoice_id: uuid.UUID) -> NoReturn:
    """PATCH and DELETE of an invoice: 404 for another tenant's, 403 below operator, otherwise always a 409
    that says how the invoice can be changed: an issued one by a credit note, a draft through its review."""
    invoice = get_invoice(session, ctx, invoice_id)
    authorize(ctx, Permission.write_data)
    status = InvoiceStatus(invoice.status)
    if status is InvoiceStatus.issued:
        raise Conflict(f"Invoice {invoice.number} is issued and cannot be changed or deleted; correct it with a "
                       f"credit note (POST /api/v1/invoices/{invoice.id}/credit-notes).", invoice_status=status.value)
    if status is InvoiceStatus.draft:
        raise Conflict("A draft invoice changes only through its review: a reviewer may edit its memo and payment "
                       "terms, approve it (which issues it) or reject it (which cancels it).",
                       invoice_status=status.value)
    raise Conflict("The invoice was cancelled; it is final.", invoice_status=status.value)


# --- reading ---------------------------------------------------------------------------------------------


def _out(invoice: Invoice) -> dict[str, Any]:
    fields = {name: getattr(invoice, name) for name in InvoiceOut.model_fields if hasattr(invoice, name)}
    for name in ("line_total", "tax_total", "total_with_tax", "paid_amount", "rounding_amount", "amount_due",
                 "credited_total"):
        fields[name] = money.quantize(fields[name], invoice.currency)
    fields["left_to_credit"] = fields["total_with_tax"] - fields["credited_total"]
    return fields


def unit_price(price: Decimal, currency: str) -> Decimal:
    """A unit price as shown: at the currency's minor unit, or with the further decimals it has (a unit price
    may have up to four: 0.1234 EUR a unit)."""
    at_minor_unit = money.quantize(price, currency)
    return at_minor_unit if at_minor_unit == price else price.normalize()


def _line_out(line: InvoiceLine, currency: str) -> LineOut:
    return LineOut(position=line.position, description=line.description, quantity=line.quantity,
                   unit_price=unit_price(line.unit_price, currency), tax_rate=line.tax_rate,
                   net_amount=money.quantize(line.net_amount, currency))


def read_invoice(session: Session, ctx: TenantContext, invoice_id: uuid.UUID) -> InvoiceDetail:
    invoice = get_invoice(session, ctx, invoice_id)
    notes = session.scalars(scoped(ctx, CreditNote).where(CreditNote.invoice_id == invoice.id)
                            .order_by(CreditNote.issued_at, CreditNote.id))
    return InvoiceDetail(
        **_out(invoice), lines=[_line_out(line, invoice.currency) for line in lines_of(session, invoice)],
        credit_notes=[CreditNoteRef(id=note.id, number=note.number, issued_at=note.issued_at,
                                    total_with_tax=money.quantize(note.total_with_tax, note.currency))
                      for note in notes])


def list_invoices(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
                  status: InvoiceStatus | None, deal_id: uuid.UUID | None,
                  client_id: uuid.UUID | None) -> tuple[list[InvoiceOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id) along ix_invoices_page."""
    query = newest_first(scoped(ctx, Invoice), Invoice, limit, cursor)
    if status is not None:
        query = query.where(Invoice.status == status.value)
    if deal_id is not None:
        query = query.where(Invoice.deal_id == deal_id)
    if client_id is not None:
        query = query.where(Invoice.client_id == client_id)
    invoices = list(session.scalars(query))
    page = [InvoiceOut(**_out(invoice)) for invoice in invoices[:limit]]
    return page, next_cursor(invoices, limit)


# --- credit notes ----------------------------------------------------------------------------------------


def _credited(notes: Sequence[CreditNote]) -> tuple[dict[int, Decimal], dict[Decimal, Decimal]]:
    """What earlier credit notes credited: quantities by invoice line position, net amounts by tax rate."""
    quantities: dict[int, Decimal] = {}
    nets: dict[Decimal, Decimal] = {}
    for note in notes:
        for line in note.lines:
            if line.get("position") is not None:
                quantities[line["position"]] = quantities.get(line["position"], Decimal(0)) + Decimal(line["quantity"])
            rate = Decimal(line["tax_rate"])
            nets[rate] = nets.get(rate, Decimal(0)) + Decimal(line["net_amount"])
    return quantities, nets


def _credit_lines(body: CreditNoteCreate, invoice: Invoice, lines: list[InvoiceLine],
                  credited_quantities: dict[int, Decimal]) -> list[tuple[int | None, en16931.Line]]:
    if body.lines is not None:
        by_position = {line.position: line for line in lines}
        chosen = []
        for index, wanted in enumerate(body.lines):
            line = by_position.get(wanted.position)
            field = f"lines.{index}"
            if line is None:
                raise _invalid(f"{field}.position", f"the invoice has no line {wanted.position} (it has lines 1 to "
                                                     f"{len(lines)})")
            left = line.quantity - credited_quantities.get(line.position, Decimal(0))
            quantity = left if wanted.quantity is None else wanted.quantity
            if left <= 0:
                raise _invalid(f"{field}.position", f"line {line.position} is credited in full already")
            if quantity > left:
                raise _invalid(f"{field}.quantity", f"only {format_quantity(left)} of line {line.position} is left "
                                                     f"to credit, not {format_quantity(quantity)}")
            chosen.append((line.position, en16931.Line(f"Credit: {line.description}"[:500], quantity,
                                                       line.unit_price, line.tax_rate)))
        return chosen
    rates = sorted({line.tax_rate for line in lines})
    rate = body.tax_rate
    if rate is None:
        if len(rates) > 1:
            raise _invalid("tax_rate", "the invoice has several tax rates (" + ", ".join(
                en16931.format_rate(r) for r in rates) + "): say which one the amount is credited at")
        rate = rates[0]
    elif rate not in rates:
        raise _invalid("tax_rate", f"the invoice has no line at {en16931.format_rate(rate)} %")
    amount = money.checked(body.amount, invoice.currency, "amount")
    return [(None, en16931.Line(body.reason[:500], Decimal(1), amount, rate))]


def create_credit_note(session: Session, ctx: TenantContext, invoice_id: uuid.UUID,
                       body: CreditNoteCreate) -> CreditNote:
    """A credit note against an issued invoice, numbered from the tenant's credit note series. Never more than
    is left: per line (its quantity), per tax rate (its taxable amount) and in all (the total with tax, less
    earlier credit notes); 422 otherwise. 409 for an invoice that is not issued."""
    invoice = get_invoice(session, ctx, invoice_id, for_update=True)  # serialises the invoice's credit notes
    authorize(ctx, Permission.write_data)
    if invoice.status != InvoiceStatus.issued:
        raise Conflict(f"Only an issued invoice can be credited; this one is {invoice.status}.",
                       invoice_status=invoice.status)
    lines = lines_of(session, invoice)
    earlier = list(session.scalars(scoped(ctx, CreditNote).where(CreditNote.invoice_id == invoice.id)))
    credited_quantities, credited_nets = _credited(earlier)
    chosen = _credit_lines(body, invoice, lines, credited_quantities)
    try:
        totals = en16931.compute([line for _, line in chosen], invoice.currency)
    except ValueError as exc:
        raise UnprocessableEntity(f"The credit note cannot be made: {exc}.") from exc
    for subtotal in totals.breakdown:
        taxable = sum((line.net_amount for line in lines if line.tax_rate == subtotal.rate), Decimal(0))
        left = taxable - credited_nets.get(subtotal.rate, Decimal(0))
        if subtotal.taxable_amount > left:
            raise UnprocessableEntity(
                f"The credit note would credit {_amount(subtotal.taxable_amount, invoice.currency)} "
                f"{invoice.currency} at {en16931.format_rate(subtotal.rate)} %, but only "
                f"{_amount(left, invoice.currency)} is left to credit at that rate.")
    left = invoice.total_with_tax - invoice.credited_total
    if totals.total_with_tax > left:
        raise UnprocessableEntity(
            f"The credit note would credit {_amount(totals.total_with_tax, invoice.currency)} {invoice.currency} "
            f"with tax, but only {_amount(left, invoice.currency)} is left to credit on invoice {invoice.number}.")
    broken = en16931.check(totals, totals.lines)
    if broken:
        raise InvoiceRulesBroken(broken)
    today = tenant_today(session, ctx.tenant_id)
    now = datetime.now(UTC)
    note = CreditNote(
        id=uuid.uuid4(), tenant_id=ctx.tenant_id, invoice_id=invoice.id,
        number=next_number(session, ctx.tenant_id, Series.credit_note, today.year), reason=body.reason,
        currency=invoice.currency, line_total=totals.line_total, tax_total=totals.tax_total,
        total_with_tax=totals.total_with_tax, tax_breakdown=totals.tax_breakdown,
        lines=[{"position": position, "description": line.description, "quantity": format_quantity(line.quantity),
                "unit_price": money.format_amount(unit_price(line.unit_price, invoice.currency)),
                "tax_rate": en16931.format_rate(line.tax_rate), "net_amount": money.format_amount(line.net_amount)}
               for (position, _), line in zip(chosen, totals.lines, strict=True)],
        issued_at=now, created_by_type=ctx.principal.kind, created_by_id=ctx.principal.id)
    session.add(note)
    invoice.credited_total = invoice.credited_total + totals.total_with_tax
    session.flush()
    audit.record(session, ctx, "credit_note.create", "credit_note", note.id, after={
        "invoice_id": str(invoice.id), "invoice_number": invoice.number, "number": note.number, "reason": note.reason,
        "total_with_tax": money.format_amount(note.total_with_tax), "currency": note.currency})
    return note


def credit_note_out(note: CreditNote, invoice_number: str) -> CreditNoteOut:
    return CreditNoteOut(
        id=note.id, invoice_id=note.invoice_id, invoice_number=invoice_number, number=note.number,
        reason=note.reason, currency=note.currency, lines=note.lines,
        line_total=money.quantize(note.line_total, note.currency), tax_total=money.quantize(note.tax_total,
                                                                                            note.currency),
        total_with_tax=money.quantize(note.total_with_tax, note.currency), tax_breakdown=note.tax_breakdown,
        issued_at=note.issued_at, created_by_type=note.created_by_type, created_by_id=note.created_by_id,
        created_at=note.created_at)


def read_credit_note(session: Session, ctx: TenantContext, credit_note_id: uuid.UUID) -> CreditNoteOut:
    note = get_or_404(session, ctx, CreditNote, credit_note_id, label="Credit note")
    number = session.scalar(scoped(ctx, Invoice).with_only_columns(Invoice.number).where(
        Invoice.id == note.invoice_id))
    return credit_note_out(note, number or "")


def list_credit_notes(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
                      invoice_id: uuid.UUID | None) -> tuple[list[CreditNoteOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id), each with its invoice's number (one query)."""
    query = newest_first(scoped(ctx, CreditNote).add_columns(Invoice.number)
                         .join(Invoice, Invoice.id == CreditNote.invoice_id), CreditNote, limit, cursor)
    if invoice_id is not None:
        query = query.where(CreditNote.invoice_id == invoice_id)
    rows = session.execute(query).all()
    page = [credit_note_out(note, number) for note, number in rows[:limit]]
    return page, next_cursor(rows, limit)


# --- the review kind -------------------------------------------------------------------------------------


def review_content(invoice: Invoice, lines: Sequence[InvoiceLine], payment_terms_days: int) -> dict[str, Any]:
    """The proposal of an invoice's review, in the shape of `InvoiceReviewContent`."""
    return InvoiceReviewContent(
        currency=invoice.currency, seller=invoice.seller, buyer=invoice.buyer,
        lines=[_line_out(line, invoice.currency).model_dump(exclude={"position"}) for line in lines],
        line_total=money.quantize(invoice.line_total, invoice.currency),
        tax_total=money.quantize(invoice.tax_total, invoice.currency),
        total_with_tax=money.quantize(invoice.total_with_tax, invoice.currency),
        amount_due=money.quantize(invoice.amount_due, invoice.currency), tax_breakdown=invoice.tax_breakdown,
        memo=invoice.memo, payment_terms_days=payment_terms_days).model_dump(mode="json")


def open_invoice_review(session: Session, ctx: TenantContext, invoice: Invoice, *, agent: str, payment_terms_days: int,
                        summary: str, citations: list[Any] | None = None, requested_by_type: str = "system",
                        requested_by_id: uuid.UUID | None = None) -> Review:
    """Put the draft in front of a reviewer (idempotent: the draft's existing review is returned)."""
    return open_review(session, ctx, entity_type=ENTITY_TYPE, entity_id=invoice.id, agent=agent,
                       proposal=review_content(invoice, lines_of(session, invoice), payment_terms_days),
                       citations=citations, summary=summary, run_id=invoice.run_id, pipeline_id=invoice.pipeline_id,
                       requested_by_type=requested_by_type, requested_by_id=requested_by_id)


def issue_approved(session: Session, ctx: TenantContext, invoice_id: uuid.UUID, content: dict[str, Any]) -> None:
    """The review was approved (as proposed, or with the memo or payment terms edited): the invoice is issued
    in the decision's transaction, with the number it gets now."""
    approved = InvoiceReviewContent.model_validate(content)
    issue(session, ctx, invoice_id, memo=approved.memo, payment_terms_days=approved.payment_terms_days)


def discard_draft(session: Session, ctx: TenantContext, invoice_id: uuid.UUID, reason: str) -> None:
    cancel_draft(session, ctx, invoice_id, reason)


INVOICE_REVIEW = register_kind(ReviewKind(entity_type=ENTITY_TYPE, content_model=InvoiceReviewContent,
                                          apply=issue_approved, discard=discard_draft,
                                          locked_fields=LOCKED_REVIEW_FIELDS))
