"""Email rendering: a role (``reference.request``) → subject, plain text and HTML from Jinja2.

Templates live in ``templates/email/<role>.{subject,txt,html}``; an association can override any of
them in ``templates/email/<ASSOCIATION>/``. Autoescape is on for HTML only; subjects and plain-text parts
render user-supplied values as given (neither can execute markup). Links to secure pages are filled
in at delivery time through the ``link`` placeholder, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

LINK_PLACEHOLDER = "{{LINK}}"  # survives rendering; replaced by the real link at delivery time


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=8)
def _env(templates_dir: str, association: str | None) -> Environment:
    base = Path(templates_dir) / "email"
    loaders = [FileSystemLoader(str(base / association))] if association else []
    loaders.append(FileSystemLoader(str(base)))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=True),
        undefined=StrictUndefined,  # a missing placeholder is a bug, not an empty string in a letter
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(role: str, context: dict, *, association: str | None = None, templates_dir: str | None = None) -> RenderedMail:
    if templates_dir is None:
        from endorse.settings import get_settings

        templates_dir = str(get_settings().templates_dir)
    env = _env(templates_dir, association)
    ctx = {"link": LINK_PLACEHOLDER, **context}
    # Subjects and plain text are not HTML: a name like "O'Brien & Co" must read as typed there.
    subject = " ".join(_render_unescaped(env, f"{role}.subject", ctx).split())
    text = _render_unescaped(env, f"{role}.txt", ctx)
    html = env.get_template(f"{role}.html").render(ctx)
    return RenderedMail(subject=subject, text=text, html=html)


def _render_unescaped(env: Environment, name: str, ctx: dict) -> str:
    return _plain(env).get_template(name).render(ctx)


@lru_cache(maxsize=8)
def _plain(env: Environment) -> Environment:
    # Kept, so its compiled templates are too: compiling a template for every email cost more than
    # rendering it when the first sweep after an import queues thousands.
    return env.overlay(autoescape=False)
