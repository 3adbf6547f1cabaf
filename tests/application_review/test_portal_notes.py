"""An advisor's notes reach the applicant: the applicant portal's status page shows them (issue 19 item 3,
on the portal of issue 16)."""

from __future__ import annotations

from endorse import links
from models import AdvisorPairing
from tasks.application_review import advisors
from tests.web.test_applicant_portal import AS_OF, LIBRARY, SECRET, _submitted, client  # noqa: F401  (fixture)


def test_the_applicant_sees_their_advisors_notes_on_their_status_page(client, sessions):  # noqa: F811
    token, app_id = _submitted(client, sessions)
    assert "Notes from your application advisor" not in client.get(f"/apply/{token}").text
    pairing = advisors.pair_advisor(sessions, LIBRARY, app_id, name="Ada Advisor", email="ada@advisors.example.net",
                                    as_of=AS_OF, secret_key=SECRET, actor="coordinator:test")
    with sessions() as s:
        adv_token = links.token_for(s.get(AdvisorPairing, pairing).token_nonce, SECRET, "advisor")
    advisors.leave_note(sessions, adv_token, "Ask your supervisor to sign the RS/C log <b>before</b> May.", as_of=AS_OF)
    page = client.get(f"/apply/{token}").text
    assert "Notes from your application advisor" in page and "Ada Advisor" in page
    assert "Ask your supervisor to sign the RS/C log &lt;b&gt;before&lt;/b&gt; May." in page
