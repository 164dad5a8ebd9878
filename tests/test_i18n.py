"""Translations: complete catalogues for every string in the dashboard, and which language a request gets."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from starlette.requests import Request

from dashboard import create_app, formatting, i18n
from dashboard.clinical_schemas import MessageOut
from monitor.store import Store
from monitor.tolerance import messages

ROOT = Path(__file__).parent.parent
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.SOURCE_LANGUAGE]
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def extracted() -> Catalog:
    """Every translatable string in the dashboard's sources now, found as `make translations` finds them."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]  # Babel is untyped here
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(ROOT, method_map, options_map):
        catalog.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=locale)


def po_path(language: str) -> Path:
    return i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def keys(catalog: Catalog) -> set[Any]:
    return {message.id for message in catalog if message.id}


def placeholders(text: str) -> list[str]:
    """The %-format placeholders, in order; "%%" is a literal percent sign, not one."""
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text) if match.group(0) != "%%")


def texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    """A message's id or translation as a list: one text, or one per plural form."""
    return [value or ""] if value is None or isinstance(value, str) else list(value)


def forms(message: Message) -> list[str]:
    return texts(message.string)


@pytest.fixture(scope="module")
def source() -> Catalog:
    return extracted()


def test_the_sources_have_strings_to_translate(source: Catalog) -> None:
    # The extraction itself works: a template string and a Python string are both found.
    assert {"Skip to main content", "%(bpm)s bpm"} <= keys(source)


def test_the_template_catalogue_is_up_to_date(source: Catalog) -> None:
    pot = read_catalog(i18n.LOCALE_DIR / "messages.pot")
    assert keys(pot) == keys(source), "run: make translations"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated(source: Catalog, language: str) -> None:
    """Fails for any string added anywhere in the dashboard and not yet translated: run `make translations`."""
    catalog = read_catalog(po_path(language), locale=language)
    assert catalog.locale is not None
    assert str(catalog.locale) == language
    missing = sorted(map(str, keys(source) - keys(catalog)))
    stale = sorted(map(str, keys(catalog) - keys(source)))
    assert missing == [], f"not in {language}/messages.po; run: make translations"
    assert stale == [], "no longer in the sources; run: make translations"
    assert list(catalog.obsolete) == []
    untranslated = [m.id for m in catalog if m.id and (m.fuzzy or not all(form.strip() for form in forms(m)))]
    assert untranslated == [], f"empty or fuzzy in {language}/messages.po"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_of_the_source(source: Catalog, language: str) -> None:
    catalog = read_catalog(po_path(language), locale=language)
    assert list(catalog.check()) == []  # Babel's own checks: python-format parameters, plural form count
    for original in source:
        if not original.id:
            continue
        translated = catalog.get(original.id)
        if translated is None or translated.fuzzy or not any(forms(translated)):
            continue  # not translated (yet): test_every_string_is_translated names it
        assert translated.python_format == original.python_format, original.id
        ids = texts(original.id)
        expected = placeholders(ids[-1])  # the plural's: it may use a count the singular leaves out
        assert len(forms(translated)) == (catalog.num_plurals if len(ids) > 1 else 1)
        for form in forms(translated)[:-1]:
            # A singular may leave the count out ("One session"), never add a placeholder of its own.
            assert set(placeholders(form)) <= set(expected), (original.id, form)
        assert placeholders(forms(translated)[-1]) == expected, original.id


def test_placeholders_are_found_as_python_formats_them() -> None:
    assert placeholders("%(bpm)s bpm, %(minutes)d min, 100%% sure, %.1f") == ["%(bpm)s", "%(minutes)d", "%.1f"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_catalogue_is_compiled_into_translations(language: str) -> None:
    expected = {"da": "Spring til hovedindhold", "nb": "Hopp til hovedinnhold"}[language]
    assert i18n.translations(language).gettext("Skip to main content") == expected
    assert i18n.translations(language) is i18n.translations(language)  # compiled once per process


def test_english_is_the_source_text() -> None:
    english = i18n.translations("en")
    assert english.gettext("Skip to main content") == "Skip to main content"
    assert english.ngettext("%(n)d session", "%(n)d sessions", 1) == "%(n)d session"
    assert english.ngettext("%(n)d session", "%(n)d sessions", 2) == "%(n)d sessions"


def test_an_unsupported_language_has_no_translations() -> None:
    with pytest.raises(ValueError, match="'fr' is not one of the supported languages"):
        i18n.translations("fr")


def test_a_fuzzy_translation_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po = tmp_path / "da" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Sign out"\nmsgstr "Log ud"\n\n'
        '#, fuzzy\nmsgid "Sign in"\nmsgstr "Log ud"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    compiled = i18n.translations.__wrapped__("da")  # uncached: the real catalogue stays cached
    assert compiled.gettext("Sign out") == "Log ud"
    assert compiled.gettext("Sign in") == "Sign in"


def request_with(
    *, user_locale: str | type[AttributeError] | None = AttributeError, cookie: str = "", accept: str = ""
) -> Request:
    """A request as the dashboard sees it; ``user_locale=AttributeError`` means no user on request.state."""
    headers = [(b"cookie", cookie.encode())] if cookie else []
    headers += [(b"accept-language", accept.encode())] if accept else []
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})
    if user_locale is not AttributeError:
        request.state.user = SimpleNamespace(locale=user_locale)
    return request


@pytest.mark.parametrize(
    ("user_locale", "cookie", "accept", "expected"),
    [
        ("nb", "lang=da", "en", "da"),  # the picker's choice on this browser first
        ("nb", "", "da", "nb"),  # then the user's own setting
        ("da_DK", "lang=xx", "", "da"),
        (None, "lang=da", "nb", "da"),  # a signed-in user without a setting: the cookie
        (AttributeError, "lang=nb", "da", "nb"),  # nobody signed in: the cookie
        (AttributeError, "lang=fr", "da-DK,da;q=0.9,en;q=0.8", "da"),  # an unknown cookie: the browser
        ("klingon", "", "nb-NO,nb;q=0.9", "nb"),
        (AttributeError, "", "en-US;q=0.5, da;q=0.9", "da"),  # by quality, not by position
        (AttributeError, "", "fr-FR, de;q=0.9, nb;q=0.1", "nb"),
        (AttributeError, "", "no", "nb"),  # Norwegian and Nynorsk readers get Bokmål
        (AttributeError, "", "nn-NO,sv;q=0.5", "nb"),
        (AttributeError, "", "da;q=0, fr", "en"),  # q=0: "not Danish"
        (AttributeError, "", "fr, de", "en"),
        (AttributeError, "", "*", "en"),
        (AttributeError, "", "", "en"),
    ],
)
def test_negotiation_order(user_locale: str | None, cookie: str, accept: str, expected: str) -> None:
    assert i18n.negotiate(request_with(user_locale=user_locale, cookie=cookie, accept=accept)) == expected


def test_accept_language_tags_are_ordered_by_quality() -> None:
    header = "da;q=0.5, en-GB, nb;q=0.8, fr;q=bad, de;q=0"
    assert i18n.accept_language_tags(header) == ["en-GB", "nb", "da"]


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), base_url="https://testserver") as client:
        yield client


def test_the_language_picker_sets_the_cookie_and_goes_back(client: TestClient) -> None:
    response = client.get("/lang/da", params={"next": "/patients/pt-0001?tab=sessions"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/patients/pt-0001?tab=sessions"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lang=da;")
    assert {"HttpOnly", "Path=/", "SameSite=lax", f"Max-Age={i18n.LANGUAGE_COOKIE_MAX_AGE_S}"} <= {
        part.strip() for part in cookie.split(";")
    }
    # The next page is in Danish.
    page = client.get("/login")
    assert '<html lang="da">' in page.text
    assert "Log ind" in page.text
    assert page.headers["content-language"] == "da"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_the_language_picker_never_redirects_off_site(client: TestClient, target: str) -> None:
    response = client.get("/lang/nb", params={"next": target}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_an_unknown_language_is_not_found_and_sets_nothing(client: TestClient) -> None:
    response = client.get("/lang/xx", params={"next": "/"}, follow_redirects=False)
    assert response.status_code == 404
    assert "set-cookie" not in response.headers


def test_the_browser_language_is_used_without_a_choice(client: TestClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "nb-NO,nb;q=0.9,en;q=0.5"})
    assert '<html lang="nb">' in page.text
    assert "Logg inn" in page.text


def test_no_compiled_catalogue_is_kept() -> None:
    # Compiled in memory (i18n.translations); a committed .mo could go stale.
    assert list(i18n.LOCALE_DIR.rglob("*.mo")) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_engines_messages_keep_their_parameters(language: str) -> None:
    """The engine's texts use {name} parameters, which Babel's checks do not know: a lost one would fail on a page."""
    gettext = i18n.translations(language).gettext
    for key, english in messages.ENGLISH.items():
        assert messages.placeholders(gettext(english)) == messages.placeholders(english), key


def test_an_engine_message_is_shown_in_the_readers_language_with_local_numbers() -> None:
    flag = messages.Message(
        "flag.poor_data_quality",
        {"day": "2026-03-02", "problem": messages.Message("quality.artifacts", {"percent": 7.5, "limit": 5})},
    )
    danish = formatting.message_text(
        MessageOut.of(flag), locale=i18n.format_locale("da"), gettext=i18n.translations("da").gettext
    )
    assert "7,5" in danish
    assert danish != flag.english()
    english = formatting.message_text(flag.as_dict(), locale=i18n.format_locale("en"), gettext=str)
    assert english == flag.english() == "Session on 2026-03-02: 7.5% of heartbeats were artifacts (more than 5%)."


def test_python_strings_are_translated_through_names_the_extractor_knows() -> None:
    """``gettext_for(request)("Text")`` works but is never extracted: the text would stay English."""
    called_at = []
    for path in sorted((ROOT / "dashboard").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Call)
                and isinstance(node.func.func, ast.Name)
                and node.func.func.id in {"gettext_for", "ngettext_for"}
            ):
                called_at.append(f"{path.name}:{node.lineno}")
    assert called_at == [], "assign it first: _ = gettext_for(request); then _('Text')"
