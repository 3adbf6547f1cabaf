"""Rows from an uploaded CSV or XLSX file (training rows; a coordinator's workbook of applications).

Pure: bytes in, rows of text out, each with the line or row number a person sees in their
spreadsheet. A file that is neither, or is unreadable, is one clear error naming the file.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime

MAX_ROWS = 2000  # a training log, or a batch of paper applications; more is a mistake, not a portfolio


class TableError(ValueError):
    pass


def kind_of(filename: str, data: bytes) -> str:
    """'csv' or 'xlsx', by content first (a renamed file is what it is), refusing anything else."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise TableError(f"{filename}: not a readable XLSX workbook")
    if b"\x00" in data[:4096]:
        raise TableError(f"{filename}: not a CSV or XLSX file")
    return "csv"


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _with_header(rows: Iterator[list[str]], where: str, first_line: int = 1) -> list[tuple[int, dict[str, str]]]:
    header = None
    out: list[tuple[int, dict[str, str]]] = []
    for n, row in enumerate(rows, start=first_line):
        if header is None:
            if any(c.strip() for c in row):
                header = [c.strip().lower() for c in row]
            continue
        if not any(c.strip() for c in row):
            continue
        if len(out) >= MAX_ROWS:
            raise TableError(f"{where}: more than {MAX_ROWS} rows")
        out.append((n, {h: (row[i] if i < len(row) else "") for i, h in enumerate(header) if h}))
    if header is None:
        raise TableError(f"{where}: empty (the first row must name the columns)")
    return out


def read_csv(filename: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError(f"{filename}: not UTF-8 text (save the CSV as UTF-8)") from None
    return _with_header(([c.strip() for c in r] for r in csv.reader(io.StringIO(text))), filename)


def read_workbook(filename: str, data: bytes) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """Every sheet of an XLSX workbook: sheet name (lower case) → rows."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableError(f"{filename}: not a readable XLSX workbook ({exc.__class__.__name__})") from None
    try:
        return {ws.title.strip().lower(): _with_header(([_cell_text(c) for c in r] for r in ws.iter_rows(values_only=True)),
                                                       f"{filename}, sheet {ws.title}")
                for ws in book.worksheets}
    finally:
        book.close()


def read_table(filename: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV file, or of the first sheet of an XLSX workbook."""
    if kind_of(filename, data) == "csv":
        return read_csv(filename, data)
    sheets = read_workbook(filename, data)
    if not sheets:
        raise TableError(f"{filename}: the workbook has no sheet")
    return next(iter(sheets.values()))
