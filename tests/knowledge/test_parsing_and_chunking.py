"""What an upload must be, and how a document's text becomes chunks."""

import pytest

from app.core.errors import UnprocessableEntity, UnsupportedMediaType
from app.knowledge.chunking import chunk_sections
from app.knowledge.parsing import (
    APPLICATION_PDF, TEXT_MARKDOWN, TEXT_PLAIN, Section, check_pdf, content_type_of, decode_text, extract_sections,
)
from app.runs.errors import PermanentError
from tests.knowledge.files import HANDBOOK_PDF_PAGES, PRICE_BOOK_MD, pdf, pdf_without_text


@pytest.mark.parametrize(("filename", "expected"), [
    ("notes.txt", TEXT_PLAIN), ("README.MD", TEXT_MARKDOWN), ("guide.markdown", TEXT_MARKDOWN),
    ("scan.PDF", APPLICATION_PDF),
])
def test_content_type_comes_from_the_extension(filename, expected):
    assert content_type_of(filename) == expected


@pytest.mark.parametrize("filename", ["report.docx", "archive.zip", "noextension", "pdf", ""])
def test_other_files_are_unsupported(filename):
    with pytest.raises(UnsupportedMediaType):
        content_type_of(filename)


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe\x00h\x00i", "not UTF-8"),
    (b"binary\x00content", "NUL bytes"),
    (b" \n\t ", "empty"),
])
def test_text_must_be_utf8_text(data, message):
    with pytest.raises(UnprocessableEntity, match=message):
        decode_text(data, "The file")


def test_text_loses_its_bom_and_windows_line_endings():
    assert decode_text("\ufeffline one\r\nline two\r".encode(), "The file") == "line one\nline two\n"


def test_pdf_checks_accept_a_real_pdf_and_refuse_the_rest():
    assert check_pdf(pdf(HANDBOOK_PDF_PAGES), 10, "The file") == 3
    with pytest.raises(UnprocessableEntity, match="3 pages; the limit is 2"):
        check_pdf(pdf(HANDBOOK_PDF_PAGES), 2, "The file")
    with pytest.raises(UnprocessableEntity, match="not a PDF"):
        check_pdf(b"GIF89a...", 10, "The file")
    with pytest.raises(UnprocessableEntity, match="not a readable PDF"):
        check_pdf(pdf(HANDBOOK_PDF_PAGES)[:300], 10, "The file")
    with pytest.raises(UnprocessableEntity, match="password-protected"):
        check_pdf(pdf([["secret"]], password="s3cret"), 10, "The file")


def test_pdf_text_is_extracted_per_page():
    sections = extract_sections(APPLICATION_PDF, pdf(HANDBOOK_PDF_PAGES))
    assert [section.metadata for section in sections] == [{"page": 1}, {"page": 2}, {"page": 3}]
    assert "refunded pro rata within 30 days" in sections[1].text


def test_a_pdf_without_text_cannot_be_ingested():
    with pytest.raises(PermanentError, match="no extractable text") as raised:
        extract_sections(APPLICATION_PDF, pdf_without_text())
    assert raised.value.code == "no_text"


def test_markdown_chunks_carry_their_heading_path():
    chunks = chunk_sections(TEXT_MARKDOWN, [Section(PRICE_BOOK_MD)], chunk_size=400, chunk_overlap=50)
    by_text = {chunk.text.splitlines()[0]: chunk.metadata for chunk in chunks}
    assert by_text["## Starter"] == {"headings": ["Price book 2026", "Starter"]}
    assert by_text["### Growth add-ons"] == {"headings": ["Price book 2026", "Growth", "Growth add-ons"]}
    assert by_text["## Enterprise"] == {"headings": ["Price book 2026", "Enterprise"]}
    assert all(not line.endswith(" ") for chunk in chunks for line in chunk.text.splitlines())


def test_chunks_respect_size_and_overlap_and_keep_the_page():
    sentences = " ".join(f"Sentence number {i} is about topic {i % 7}." for i in range(200))
    chunks = chunk_sections(TEXT_PLAIN, [Section(sentences, {"page": 4})], chunk_size=300, chunk_overlap=60)
    assert len(chunks) > 10
    assert all(len(chunk.text) <= 300 and chunk.metadata == {"page": 4} for chunk in chunks)
    # Neighbours overlap: the end of one chunk reappears at the start of the next.
    assert all(first.text.split()[-1] in second.text for first, second in zip(chunks, chunks[1:]))
    with pytest.raises(ValueError, match="chunk_overlap"):
        chunk_sections(TEXT_PLAIN, [Section(sentences)], chunk_size=100, chunk_overlap=100)
