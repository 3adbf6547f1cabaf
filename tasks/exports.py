"""CSV and XLSX exports, neutralized against spreadsheet formula injection.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (OWASP "CSV injection"), also behind leading spaces or
zero-width characters, which spreadsheets skip. Every text cell that could be read that way gets a
leading apostrophe, which spreadsheets show as text and do not evaluate. Numbers stay numbers. A name
such as "-Ann" therefore exports as "'-Ann": the price of safety. Every CSV field is quoted, so a bare
carriage return inside a value cannot end the row and start a new, unprotected one.
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")  # incl. full-width forms


def neutralize(value):
    if isinstance(value, str) and _visible_start(value).startswith(_FORMULA_START):
        return "'" + value
    return value


def _visible_start(value: str) -> str:
    """The value from its first character a spreadsheet reads: no leading spaces or format characters."""
    i = 0
    while i < len(value) and (value[i] in " \u00a0\u3000" or unicodedata.category(value[i]) == "Cf"):
        i += 1
    return value[i:]


def neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.columns = [neutralize(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: neutralize(v) if isinstance(v, str) else v)
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    # UTF-8 with a byte-order mark, so Excel opens accented names correctly.
    return neutralized(frame).to_csv(index=False, quoting=csv.QUOTE_ALL).encode("utf-8-sig")


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str) -> bytes:
    """An XLSX workbook where every text cell is stored as a string (never a formula)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    safe = neutralized(frame)
    ws.append([str(c) for c in safe.columns])
    for row in safe.itertuples(index=False):
        cells = []
        for v in row:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append(None)
            elif hasattr(v, "item"):  # numpy scalars → Python numbers
                cells.append(v.item())
            else:
                cells.append(v)
        ws.append(cells)
    for cell_row in ws.iter_rows(min_row=1):
        for cell in cell_row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl would otherwise treat a leading "=" as a formula
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
