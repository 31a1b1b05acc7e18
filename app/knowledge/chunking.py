"""Splitting a document's sections into chunks with langchain-text-splitters.

Chunks are at most `chunk_size` characters, neighbours share up to `chunk_overlap`, and splits fall on
the largest boundary that fits (paragraph, line, sentence, word). Markdown is first cut at its headings,
and each chunk keeps the heading path above it as metadata (`headings`); PDF chunks keep their `page`.
"""

from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import Language, MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from app.knowledge.parsing import TEXT_MARKDOWN, Section

_HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]


@dataclass(frozen=True)
class Chunk:
    text: str
    metadata: dict[str, Any]


def chunk_sections(content_type: str, sections: list[Section], *, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    if chunk_overlap >= chunk_size:
        raise ValueError(f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})")
    if content_type == TEXT_MARKDOWN:
        return _markdown_chunks(sections, chunk_size, chunk_overlap)
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    return [
        Chunk(text, dict(section.metadata))
        for section in sections
        for text in _clean(splitter.split_text(section.text))
    ]


def _markdown_chunks(sections: list[Section], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    # Headings stay in the text too: they are often the words a question uses ("Enterprise pricing").
    by_heading = MarkdownHeaderTextSplitter(_HEADINGS, strip_headers=False)
    splitter = RecursiveCharacterTextSplitter.from_language(
        Language.MARKDOWN, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks = []
    for section in sections:
        for part in by_heading.split_text(section.text):
            headings = [part.metadata[key] for _, key in _HEADINGS if key in part.metadata]
            metadata = {**section.metadata, **({"headings": headings} if headings else {})}
            chunks.extend(Chunk(text, metadata) for text in _clean(splitter.split_text(part.page_content)))
    return chunks


def _clean(texts: list[str]) -> list[str]:
    # The heading splitter ends lines with markdown's two-space hard break; it is noise in a citation.
    cleaned = ("\n".join(line.rstrip() for line in text.strip().splitlines()) for text in texts)
    return [text for text in cleaned if text]
