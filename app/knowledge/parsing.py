"""What a document is made of: its type, the checks an upload must pass before anything is stored, and
the text sections a worker extracts from it.

The API runs the cheap checks (type, size, encoding, a PDF that opens and is not locked) so that bad
input is a 4xx and nothing is stored. Extracting a PDF's text costs up to seconds a page and happens in
the ingestion run; a PDF without extractable text (a scan) fails there, with the reason on the document.
"""

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from app.core.errors import UnprocessableEntity, UnsupportedMediaType
from app.runs.errors import PermanentError

TEXT_PLAIN = "text/plain"
TEXT_MARKDOWN = "text/markdown"
APPLICATION_PDF = "application/pdf"
TEXT_TYPES = (TEXT_PLAIN, TEXT_MARKDOWN)
EXTENSIONS = {".txt": TEXT_PLAIN, ".md": TEXT_MARKDOWN, ".markdown": TEXT_MARKDOWN, ".pdf": APPLICATION_PDF}


@dataclass(frozen=True)
class Section:
    """A run of text and what is known about where it came from (a PDF page number)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def content_type_of(filename: str) -> str:
    extension = PurePath(filename).suffix.lower()
    if extension not in EXTENSIONS:
        raise UnsupportedMediaType(
            f"'{filename}' is not a supported file type; upload {', '.join(sorted(EXTENSIONS))} files.")
    return EXTENSIONS[extension]


def normalise_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_text(data: bytes, what: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnprocessableEntity(f"{what} is not UTF-8 text (invalid byte at offset {exc.start}).") from exc
    return check_text(text, what)


def check_text(text: str, what: str) -> str:
    if "\x00" in text:
        raise UnprocessableEntity(f"{what} contains NUL bytes; it looks like a binary file, not text.")
    text = normalise_text(text)
    if not text.strip():
        raise UnprocessableEntity(f"{what} is empty.")
    return text


def check_pdf(data: bytes, max_pages: int, what: str) -> int:
    """The page count of a PDF that opens, is not password-protected and is not too long."""
    if not data.startswith(b"%PDF-"):
        raise UnprocessableEntity(f"{what} is not a PDF (it does not start with %PDF-).")
    try:
        reader = _open_pdf(data)
        pages = len(reader.pages)
    except PyPdfError as exc:
        raise UnprocessableEntity(f"{what} is not a readable PDF: {exc}") from exc
    if pages == 0:
        raise UnprocessableEntity(f"{what} has no pages.")
    if pages > max_pages:
        raise UnprocessableEntity(f"{what} has {pages} pages; the limit is {max_pages}.")
    return pages


def _open_pdf(data: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(data))
    # Many PDFs are "encrypted" with an empty user password, only to restrict printing; those open.
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnprocessableEntity("The PDF is password-protected; upload an unlocked copy.")
    return reader


def content_hash(content_type: str, payload: bytes) -> str:
    """Identical content of the same type is one document per tenant, whatever its title or file name."""
    return hashlib.sha256(content_type.encode() + b"\x00" + payload).hexdigest()


def extract_sections(content_type: str, source: bytes) -> list[Section]:
    """The document's text, for the ingestion run: one section, or one per PDF page."""
    if content_type in TEXT_TYPES:
        return [Section(normalise_text(source.decode("utf-8-sig")))]
    if content_type != APPLICATION_PDF:
        raise PermanentError(f"cannot extract text from {content_type}", code="unsupported_content_type")
    try:
        reader = _open_pdf(source)
        sections = [
            Section(normalise_text(page.extract_text() or "").replace("\x00", ""), {"page": number})
            for number, page in enumerate(reader.pages, start=1)
        ]
    except (PyPdfError, UnprocessableEntity) as exc:
        raise PermanentError(f"the PDF cannot be read: {exc}", code="unreadable_document") from exc
    if not any(section.text.strip() for section in sections):
        raise PermanentError("the PDF has no extractable text (a scanned document? OCR is not supported)",
                             code="no_text")
    return sections
