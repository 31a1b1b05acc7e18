"""Real files for upload tests: PDFs written with reportlab, and a markdown handbook."""

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas


def pdf(pages: list[list[str]], *, password: str | None = None) -> bytes:
    """A PDF with one page per list of lines (real text objects, extractable as text)."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, pagesize=A4, encrypt=password)
    for lines in pages:
        text = document.beginText(72, 770)
        for line in lines:
            text.textLine(line)
        document.drawText(text)
        document.showPage()
    document.save()
    return buffer.getvalue()


def pdf_without_text() -> bytes:
    """A valid one-page PDF holding only a drawing, like a scan: nothing to extract."""
    buffer = io.BytesIO()
    document = canvas.Canvas(buffer, pagesize=A4)
    document.rect(72, 500, 300, 200, fill=1)
    document.showPage()
    document.save()
    return buffer.getvalue()


HANDBOOK_PDF_PAGES = [
    ["Customer Success Handbook", "Onboarding starts with a kickoff call within two business days.",
     "Every new account gets a named customer success manager."],
    ["Refunds and cancellations", "Annual plans can be refunded pro rata within 30 days of purchase.",
     "Monthly plans are cancelled at the end of the billing period."],
    ["Security", "Single sign-on with SAML is available on the Enterprise plan.",
     "Data is encrypted at rest with AES-256 and backed up nightly."],
]

PRICE_BOOK_MD = """# Price book 2026

All prices are per seat and month, billed annually, in euros.

## Starter

Starter costs 29 EUR. It includes the CRM, email sequences and one pipeline.

## Growth

Growth costs 59 EUR. It adds forecasting, unlimited pipelines and the API.

### Growth add-ons

The call recorder add-on costs 12 EUR and the data enrichment add-on costs 18 EUR.

## Enterprise

Enterprise is quoted individually. Discounts above 15 percent need the sales director's approval.
"""
