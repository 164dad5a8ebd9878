"""Pages render in the reader's language, with the user's CSRF token, and languages never mix."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from dashboard import templating
from monitor.store import Store

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """An app with one page that renders not_found.html as whoever the query says is signed in."""
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", tz=COPENHAGEN)
    app = FastAPI()
    app.state.store = store

    @app.get("/probe")
    def probe(request: Request, kind: str = "", name: str = "", locale: str | None = None) -> HTMLResponse:
        if kind:
            request.state.user = SimpleNamespace(kind=kind, display_name=name, locale=locale, csrf_token="tok-123")
        return templating.render(
            request, "not_found.html", {"message": "gone"}, status_code=404, headers={"X-Probe": "yes"}
        )

    with TestClient(app) as client:
        yield client
    store.close()


def test_a_page_in_the_users_language_with_their_csrf_token(client: TestClient) -> None:
    response = client.get("/probe", params={"kind": "clinician", "name": "<b>Dr</b> Ås", "locale": "da", "tab": "1"})
    assert response.status_code == 404
    assert response.headers["x-probe"] == "yes"
    assert response.headers["content-language"] == "da"
    html = response.text
    assert '<html lang="da">' in html
    assert '<meta name="csrf-token" content="tok-123">' in html
    assert '<input type="hidden" name="csrf_token" value="tok-123">' in html
    assert "<title>Ikke fundet · Dosis</title>" in html
    assert "Spring til hovedindhold" in html
    # A translation's parameters are escaped like any other value.
    assert "Logget ind som &lt;b&gt;Dr&lt;/b&gt; Ås" in html
    assert "Tidspunkter vises i Danmark-tid." in html
    assert '<a href="/">Patienter</a>' in html


def test_the_language_picker_comes_back_to_this_page(client: TestClient) -> None:
    html = client.get("/probe", params={"kind": "patient", "name": "Astrid", "locale": "nb"}).text
    assert '<a class="brand" href="/me">' in html
    assert '<a href="/me">Min trening</a>' in html
    next_path = "/probe%3Fkind%3Dpatient%26name%3DAstrid%26locale%3Dnb"
    assert f'<a href="/lang/da?next={next_path}" lang="da" hreflang="da">Dansk</a>' in html
    assert f'<a href="/lang/nb?next={next_path}" lang="nb" hreflang="nb" aria-current="true">Norsk bokmål</a>' in html


def test_nobody_signed_in_gets_no_token_and_no_sign_out(client: TestClient) -> None:
    html = client.get("/probe", headers={"Accept-Language": "en-GB"}).text
    assert '<html lang="en">' in html
    assert '<meta name="csrf-token" content="">' in html
    assert "Sign out" not in html
    assert "Skip to main content" in html


def test_languages_do_not_mix_when_renders_interleave() -> None:
    # A Danish page is half written when a Norwegian one is rendered in full; the rest is still Danish.
    danish = templating.templates_for("da", COPENHAGEN).get_template("not_found.html")
    norwegian = templating.templates_for("nb", COPENHAGEN).get_template("not_found.html")
    context = {"message": "", "current_path": "/", "home_path": "/", "csrf_token": "", "user": None}
    chunks = danish.generate(context)
    first_half = ""
    while "Spring til hovedindhold" not in first_half:
        first_half += next(chunks)
    assert "Hopp til hovedinnhold" in norwegian.render(context)
    rest = "".join(chunks)
    assert "Ikke fundet" in rest
    assert "Tidspunkter vises i Danmark-tid." in rest
    assert "Ikke funnet" not in rest


def test_filters_and_gettext_belong_to_the_environment_of_the_language() -> None:
    environment = templating.templates_for("da", COPENHAGEN).env
    moment = datetime(2026, 11, 21, 8, 5, tzinfo=UTC)
    rendered = environment.from_string(
        '{{ t | datetime }} | {{ 1234.5 | number }} | {{ _("Signed in as %(name)s", name="<i>x</i>") }}'
    ).render(t=moment)
    assert rendered == "21. nov. 2026 09.05 | 1.234,5 | Logget ind som &lt;i&gt;x&lt;/i&gt;"
    assert templating.templates_for("da", COPENHAGEN) is templating.templates_for("da", COPENHAGEN)
    assert templating.templates_for("nb", COPENHAGEN).env is not environment
