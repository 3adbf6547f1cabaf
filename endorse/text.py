"""Text that comes from people: checks where it enters, and the normal form used to compare it.

A name or subject ends up in an email header, where a line break would split the header (and make
the email package refuse the whole message); such text is refused where it enters, naming the field.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls, DEL, and the line and paragraph separators: none belongs in a one-line value.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def single_line(value: str, field: str, *, max_length: int = 200) -> str:
    """``value`` stripped, or ValueError naming ``field`` when it holds control characters or line
    breaks, or is longer than ``max_length``."""
    if _NOT_ONE_LINE.search(value):
        raise ValueError(f"{field}: must be one line without control characters (line breaks, tabs, …)")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"{field}: at most {max_length} characters")
    return value


def refuse_control_characters(value: str) -> str:
    """For pydantic validators: the field's location is added to the message by pydantic."""
    if _NOT_ONE_LINE.search(value):
        raise ValueError("must be one line without control characters (line breaks, tabs, …)")
    return value


# --- comparing text as a reader sees it ------------------------------------------------------------

# Letters from other scripts that look like Latin ones (the common part of Unicode's confusables that
# NFKC leaves alone), capitals and small letters apart (Greek capital Η looks like H, small η like n):
# folded so "Аnna" written with a Cyrillic А still matches "Anna".
_CONFUSABLES = str.maketrans({
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ї": "I", "Ј": "J", "Ү": "Y", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ү": "y",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j",
    # Latin letters read as plain ones
    "ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ɡ": "g", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe",
    "Œ": "OE", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
})


def comparable(text: str) -> str:
    """``text`` as it reads: NFKC (full-width, circled and styled letters become plain ones), format
    characters (zero-width spaces and joiners, soft hyphens, direction marks) removed, accents
    dropped, look-alike letters from other scripts folded to Latin, case folded, and every run of
    spacing or punctuation collapsed to one space."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFKD", text.translate(_CONFUSABLES).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_CONFUSABLES)
    return " ".join(re.sub(r"[^\w]+|_", " ", text).split())


def squashed(text: str) -> str:
    """``comparable`` without any spaces: "J a n e  D o e" and "Jane Doe" are the same."""
    return comparable(text).replace(" ", "")
