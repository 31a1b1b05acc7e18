"""The invoice life cycle, in one place:

```
draft ──▶ issued      (its review was approved: numbered, dated, immutable from then on)
  └────▶ cancelled    (its review was rejected, expired or cancelled with its pipeline)
```

An issued invoice is final: a correction is a credit note (app.invoices.service.create_credit_note), never a
change. Every status change goes through `transition`, on a row the caller has locked.

The rule is also kept where rows are written: a flush that would change an issued invoice (anything but the
running sum of its credit notes) or its lines is refused with a 409, whichever code path attempts it."""

from enum import StrEnum

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Mapper

from app.core.errors import Conflict
from app.core.lifecycle import IllegalTransition, Lifecycle
from app.models import Invoice, InvoiceLine


class InvoiceStatus(StrEnum):
    draft = "draft"
    issued = "issued"
    cancelled = "cancelled"


S = InvoiceStatus
TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    S.draft: frozenset({S.issued, S.cancelled}),
    S.issued: frozenset(),
    S.cancelled: frozenset(),
}


class IllegalInvoiceTransition(IllegalTransition):
    pass


LIFECYCLE = Lifecycle("An invoice", InvoiceStatus, TRANSITIONS, attribute="status", error=IllegalInvoiceTransition,
                      problem_key="invoice_status")
TERMINAL = LIFECYCLE.terminal
can_transition = LIFECYCLE.can
transition = LIFECYCLE.move


class IssuedInvoiceIsFinal(Conflict):
    def __init__(self, number: str | None):
        super().__init__(f"Invoice {number} is issued and cannot be changed; correct it with a credit note "
                         "(POST /api/v1/invoices/{id}/credit-notes).", invoice_status=InvoiceStatus.issued.value)


# What issuing may still change on an issued invoice: the sum of its credit notes is bookkeeping about the
# invoice, not part of it.
_CHANGEABLE_WHEN_ISSUED = frozenset({"credited_total", "updated_at"})


@event.listens_for(Invoice, "before_update")
def _issued_invoice_unchanged(mapper: Mapper, connection, invoice: Invoice) -> None:
    state = inspect(invoice)
    history = state.attrs.status.history
    was = history.deleted[0] if history.deleted else invoice.status
    if was != InvoiceStatus.issued:
        return
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()} - _CHANGEABLE_WHEN_ISSUED
    if changed:
        raise IssuedInvoiceIsFinal(invoice.number)


@event.listens_for(InvoiceLine, "before_update")
@event.listens_for(InvoiceLine, "before_delete")
def _lines_of_issued_invoice_unchanged(mapper: Mapper, connection, line: InvoiceLine) -> None:
    row = connection.execute(select(Invoice.status, Invoice.number).where(Invoice.id == line.invoice_id)).first()
    if row is not None and row.status == InvoiceStatus.issued:
        raise IssuedInvoiceIsFinal(row.number)
