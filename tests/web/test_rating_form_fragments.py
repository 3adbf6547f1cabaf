"""The blank areas of a rating form are rendered once per category and scale and reused (issue 17: the
page's cost): the page a rater gets is the same, byte for byte, as the one rendered in full, and a
draft's answers or the form's errors are always rendered live."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from web.routers import rater


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def test_the_reused_areas_give_the_same_page_as_rendering_them(web_app, rating_link, monkeypatch):
    token, _ = rating_link
    client = TestClient(web_app)
    first, again = client.get(f"/rate/{token}"), client.get(f"/rate/{token}")  # the second from the reused areas
    assert web_app.state.site.fragments, "the areas were not kept: the test proves nothing"
    monkeypatch.setattr(rater, "blank_areas", lambda *args: None)  # every area rendered in the page itself
    live = client.get(f"/rate/{token}")
    assert first.status_code == again.status_code == live.status_code == 200
    assert first.text == again.text == live.text


def test_a_draft_is_rendered_with_its_answers_not_from_the_blank_areas(web_app, rating_link):
    token, _ = rating_link
    client = TestClient(web_app)
    page = client.get(f"/rate/{token}").text
    area = re.search(r'name="answer:([^"]+)"', page).group(1)
    saved = client.post(f"/rate/{token}", data={"csrf": _csrf(page), "action": "save", f"answer:{area}": "3"})
    assert saved.status_code == 200
    back = client.get(f"/rate/{token}").text
    assert re.search(rf'name="answer:{re.escape(area)}" value="3" checked', back)
    assert back.count(" checked") == 1
    blank = client.get(f"/rate/{token}")  # still the draft: the blank areas are never shown over answers
    assert blank.text == back
