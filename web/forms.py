"""Reading posted forms. Text a person types never holds control characters other than tab and line
breaks; NUL in particular is refused by PostgreSQL in any text column, so it would turn a hostile form
into a server error. Such characters are dropped here, once, for every form the app reads."""

from __future__ import annotations

import re

from fastapi import Request
from starlette.datastructures import FormData

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    return _CONTROL.sub("", value)


async def read_form(request: Request) -> FormData:
    form = await request.form()
    return FormData([(clean_text(k), clean_text(v) if isinstance(v, str) else v) for k, v in form.multi_items()])
