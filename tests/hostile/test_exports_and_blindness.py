"""Formula injection behind a bare carriage return, spaces or zero-width characters (issue #13 · 9),
and names hidden from the essay blindness check by zero-width characters, look-alike letters or
spacing (issue #13 · 11). Pure functions: data-driven cases named after what they try."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from tasks.exam_intake import blindness_problems
from tasks.exports import to_csv_bytes, to_xlsx_bytes

# --- 9 · CSV formula neutralisation -------------------------------------------------------------------------

FORMULA_CASES = [
    pytest.param("x\r=1+2", id="bare CR then a formula"),
    pytest.param("x\n=1+2", id="LF then a formula"),
    pytest.param("x\r\n@SUM(A1)", id="CRLF then a formula"),
    pytest.param("  =1+2", id="leading spaces"),
    pytest.param("\u200b=1+2", id="leading zero-width space"),
    pytest.param("\ufeff+cmd|' /C calc'!A0", id="leading byte-order mark"),
    pytest.param("\u00a0-2+3", id="leading no-break space"),
    pytest.param("\u2060@SUM(1)", id="leading word joiner"),
    pytest.param("\t=1", id="leading tab"),
]


def _cells_as_a_spreadsheet_reads_them(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("value", FORMULA_CASES)
def test_csv_keeps_one_row_per_record_and_no_cell_starts_a_formula(value):
    frame = pd.DataFrame({"application_id": ["CT-1", "CT-2"], "applicant": [value, "Ann"], "days": [3, 4]})
    data = to_csv_bytes(frame)
    rows = _cells_as_a_spreadsheet_reads_them(data)
    assert len(rows) == 3  # header + two records: the CR did not start a row
    for row in rows:
        for cell in row:
            assert not cell.lstrip(" \u00a0\u200b\ufeff\u2060").startswith(("=", "+", "-", "@", "\t")), cell
    # Every field quoted, so no reader splits a record at a bare CR inside a value.
    assert data.decode("utf-8-sig").startswith('"application_id","applicant","days"\n"CT-1","')


@pytest.mark.parametrize("value", FORMULA_CASES)
def test_xlsx_cells_are_text_and_neutralised(value):
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(to_xlsx_bytes(pd.DataFrame({"applicant": [value]}), "t"))).active
    cell = ws["A2"]
    assert cell.data_type == "s"  # text, never a formula
    assert not cell.value.lstrip(" \u00a0\u200b\ufeff\u2060").startswith(("=", "+", "-", "@", "\t"))


def test_numbers_and_ordinary_names_are_left_alone():
    rows = _cells_as_a_spreadsheet_reads_them(to_csv_bytes(pd.DataFrame({"applicant": ["Ann O'Neil"], "days": [7]})))
    assert rows[1] == ["Ann O'Neil", "7"]


# --- 11 · blindness check on normalised text ---------------------------------------------------------------

CHECKS = ["applicant_name", "applicant_surname", "employer"]
NAME, EMPLOYER = "Maria Lopez", "Early Steps Clinic"
FLAGGED = [
    pytest.param("I am Maria\u200bLopez.", "name", id="zero-width space between the names"),
    pytest.param("I am Ma\u200dria Lo\u00adpez.", "name", id="zero-width joiner and soft hyphen inside"),
    pytest.param("I am M\u0430ri\u0430 L\u043epez.", "name", id="Cyrillic look-alike letters"),
    pytest.param("I am \u039cari\u03b1 Lopez.", "name", id="Greek look-alike letters"),
    pytest.param("I am ＭＡＲＩＡ ＬＯＰＥＺ.", "name", id="full-width letters"),
    pytest.param("I am 𝐌𝐚𝐫𝐢𝐚 𝐋𝐨𝐩𝐞𝐳.", "name", id="mathematical bold letters"),
    pytest.param("I am M a r i a   L o p e z.", "name", id="spaced-out letters"),
    pytest.param("I am Maria   \n  Lopez.", "name", id="spacing and a line break between the names"),
    pytest.param("I am María López.", "name", id="accents added"),
    pytest.param("signed, L.o.p.e.z", "surname", id="surname with dots between the letters"),
    pytest.param("signed, L\u200bO\u200bP\u200bE\u200bZ", "surname", id="surname with zero-width spaces"),
    pytest.param("we at Early\u00a0Steps\u200b Clinic", "employer", id="employer with odd spaces"),
    pytest.param("we at E\u0430rly Steps Clinic", "employer", id="employer with a look-alike letter"),
]
NOT_FLAGGED = [
    pytest.param("Lopezville is a small town.", id="the surname inside another word"),
    pytest.param("The mother, Mar, said little.", id="a different, shorter name"),
    pytest.param("A p p l e s and pears.", id="other spaced-out letters"),
    pytest.param("Early intervention steps are clinical.", id="the employer's words apart"),
]


@pytest.mark.parametrize(("text", "what"), FLAGGED)
def test_a_hidden_name_surname_or_employer_is_still_found(text, what):
    reasons = blindness_problems(text, NAME, [EMPLOYER], CHECKS)
    expected = {"name": "the text contains the candidate's name",
                "surname": "the text contains the candidate's surname",
                "employer": "the text names the candidate's employer"}[what]
    assert expected in reasons


@pytest.mark.parametrize("text", NOT_FLAGGED)
def test_ordinary_text_is_not_flagged(text):
    assert blindness_problems(text, NAME, [EMPLOYER], CHECKS) == []
