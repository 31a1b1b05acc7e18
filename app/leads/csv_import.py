"""Reading a leads CSV: the file as a whole is checked here (type, size, encoding, header, row count) and
refused with one clear 4xx before any row is written; each row is then validated on its own, so a bad
row is reported with its number and changes nothing else."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.core.errors import PayloadTooLarge, UnprocessableEntity, UnsupportedMediaType
from app.leads.schemas import LEAD_FIELDS, REQUIRED_FIELDS, LeadCreate, RowError

MAX_BYTES = 2 * 1_048_576
MAX_ROWS = 5_000
_CSV_TYPES = {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"}
_DELIMITERS = (",", ";", "\t")
_ALIASES = {"company size": "company_size", "e-mail": "email", "job title": "title", "full name": "name"}


@dataclass(frozen=True)
class CsvRow:
    number: int  # the record's number in the file, the header being 1
    cells: dict[str, str]  # column → non-empty cell, stripped
    problem: str | None = None  # a row whose shape is wrong (cell count)


def _refuse_type(filename: str, content_type: str) -> None:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension == "csv" or (not extension and content_type in _CSV_TYPES) or (
            extension == "txt" and content_type in _CSV_TYPES):
        return
    raise UnsupportedMediaType(f"'{filename or 'the upload'}' is not a CSV file: send the leads as a .csv file "
                               "(UTF-8, the header row first).")


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise UnsupportedMediaType("The file is not a CSV: it contains binary data (a spreadsheet? export it as "
                                   "CSV UTF-8).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnprocessableEntity(f"The file is not UTF-8 (byte {exc.start} cannot be read): export it as CSV "
                                  "UTF-8.") from None


def _column(header: str) -> str:
    name = " ".join(header.strip().lower().split())
    return _ALIASES.get(name, name.replace(" ", "_"))


def _header(cells: list[str]) -> list[str]:
    columns = [_column(cell) for cell in cells]
    if any(not column for column in columns):
        raise UnprocessableEntity("The header row has an empty column name.")
    duplicates = sorted({column for column in columns if columns.count(column) > 1})
    if duplicates:
        raise UnprocessableEntity(f"The header row names these columns more than once: {', '.join(duplicates)}.")
    unknown = [column for column in columns if column not in LEAD_FIELDS]
    if unknown:
        raise UnprocessableEntity(f"Unknown column(s): {', '.join(unknown)}. The columns are: "
                                  f"{', '.join(LEAD_FIELDS)} (name and email required).")
    missing = [column for column in REQUIRED_FIELDS if column not in columns]
    if missing:
        raise UnprocessableEntity(f"The CSV lacks the required column(s): {', '.join(missing)}. The first row must "
                                  f"be a header naming the columns ({', '.join(LEAD_FIELDS)}).")
    return columns


def _delimiter(first_line: str) -> str:
    """The delimiter the header uses most: comma, or semicolon (spreadsheets in many locales), or tab."""
    return max(_DELIMITERS, key=first_line.count)


def read_csv(data: bytes, filename: str, content_type: str) -> list[CsvRow]:
    """The file's data rows, or one 4xx for the file as a whole. Blank rows are skipped."""
    _refuse_type(filename, content_type)
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"The CSV is larger than {MAX_BYTES} bytes; split it into several imports.")
    text = _decode(data)
    if not text.strip():
        raise UnprocessableEntity("The CSV is empty: the first row must be a header naming the columns "
                                  f"({', '.join(LEAD_FIELDS)}).")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]), strict=True)
    try:
        columns = _header(next(reader))
        rows = list(_rows(reader, columns))
    except csv.Error as exc:
        raise UnprocessableEntity(f"The CSV cannot be read at line {reader.line_num}: {exc}.") from None
    if not rows:
        raise UnprocessableEntity("The CSV has a header but no rows.")
    return rows


def _rows(reader: Any, columns: list[str]) -> Iterator[CsvRow]:
    count = 0
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            raise PayloadTooLarge(f"The CSV has more than {MAX_ROWS} rows; split it into several imports.")
        if len(cells) > len(columns) and not any(cell.strip() for cell in cells[len(columns):]):
            cells = cells[:len(columns)]  # empty trailing cells, as spreadsheets write them
        if len(cells) != len(columns):
            yield CsvRow(number, {}, f"has {len(cells)} cells, the header has {len(columns)}")
            continue
        yield CsvRow(number, {column: cell.strip() for column, cell in zip(columns, cells, strict=True)
                              if cell.strip()})


def validate_row(row: CsvRow) -> LeadCreate | list[RowError]:
    """The row as a new lead's fields, or what is wrong with it, field by field."""
    if row.problem:
        return [RowError(field="row", message=f"The row {row.problem}.")]
    try:
        return LeadCreate.model_validate(row.cells)
    except ValidationError as exc:
        return [RowError(field=".".join(str(part) for part in error["loc"]) or "row",
                         message=error["msg"].removeprefix("Value error, "))
                for error in exc.errors(include_url=False)]
