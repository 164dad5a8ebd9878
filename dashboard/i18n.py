"""The reader's language: English (the source), Danish and Norwegian Bokmål.

Which language a request gets (:func:`negotiate`): the signed-in user's own setting, else the
``lang`` cookie the language picker sets (``GET /lang/{code}?next=/path``), else the browser's
Accept-Language, else English.

Translations come from the gettext catalogues in ``dashboard/locale/<lang>/LC_MESSAGES/messages.po``
(``make translations`` extracts the strings and updates them). They are compiled in memory once
per process, so no binary ``.mo`` file is kept next to them to go stale.

In Python code, translate for a request with ``_ = gettext_for(request)`` then ``_("Text")``, and
``ngettext = ngettext_for(request)`` then ``ngettext(singular, plural, n)`` for counts (by those names:
they are what `make translations` looks for). Strings defined at module level (before
any request exists) are marked with :func:`N_` so that they are extracted, and translated where
they are shown: ``_(REASON)`` in Python, ``{{ _(reason) }}`` in a template.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import APIRouter, Query, Request, status
from fastapi.responses import RedirectResponse

from dashboard.auth import SettingsDep, local_path
from dashboard.queries import NotFoundError

SOURCE_LANGUAGE = "en"
LANGUAGES: Mapping[str, str] = {"en": "English", "da": "Dansk", "nb": "Norsk bokmål"}
"""Supported languages by code (as in ``<html lang>``), each with its name in itself, for the picker."""
FORMAT_LOCALES: Mapping[str, str] = {"en": "en_GB", "da": "da_DK", "nb": "nb_NO"}
"""Where dates and numbers are written as in: English is British (21 November 2026, 24-hour clock)."""
LANGUAGE_ALIASES: Mapping[str, str] = {"no": "nb", "nn": "nb"}
"""Browsers that ask for Norwegian or Nynorsk get Bokmål, which every Norwegian reader reads, not English."""
LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_MAX_AGE_S = 365 * 24 * 3600
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

router = APIRouter(include_in_schema=False)


def N_(message: str) -> str:
    """Marks a string for extraction (the gettext convention) without translating it: there is no reader yet."""
    return message


def supported_language(tag: str | None) -> str | None:
    """The supported language for a locale tag such as ``da``, ``da-DK``, ``nb_NO`` or ``no``; None if none."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-")[0].strip().lower()
    primary = LANGUAGE_ALIASES.get(primary, primary)
    return primary if primary in LANGUAGES else None


def accept_language_tags(header: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (RFC 9110 quality values)."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and tag.strip() != "*" and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(request: Request) -> str:
    """The language for this request: the ``lang`` cookie > the user's setting > Accept-Language > English.

    The cookie is the picker's choice on this browser, so it wins: a clinician who switches to
    English for a colleague gets English at once. The account's setting is what a new browser starts in.
    """
    user = getattr(request.state, "user", None)
    chosen = supported_language(request.cookies.get(LANGUAGE_COOKIE)) or supported_language(
        getattr(user, "locale", None)
    )
    if chosen:
        return chosen
    wanted = accept_language_tags(request.headers.get("accept-language", ""))
    return next(filter(None, map(supported_language, wanted)), SOURCE_LANGUAGE)


def format_locale(language: str) -> Locale:
    """The Babel locale that writes dates and numbers for ``language``."""
    return Locale.parse(FORMAT_LOCALES[language])


@functools.cache
def translations(language: str) -> NullTranslations:
    """The catalogue of ``language``, compiled once per process; English is the source text itself."""
    if language not in LANGUAGES:
        raise ValueError(f"{language!r} is not one of the supported languages {sorted(LANGUAGES)}")
    if language == SOURCE_LANGUAGE:
        return NullTranslations()
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: a guess is not a translation
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext_for(request: Request) -> Callable[[str], str]:
    """``gettext`` in the request's language: ``_ = gettext_for(request)``, then ``_("Text")``."""
    return translations(negotiate(request)).gettext


def ngettext_for(request: Request) -> Callable[[str, str, int], str]:
    """``ngettext`` in the request's language: the plural form that fits ``n`` (format it afterwards)."""
    return translations(negotiate(request)).ngettext


@router.get("/lang/{code}")
def choose_language(
    code: str, settings: SettingsDep, next: Annotated[str, Query(max_length=2000)] = "/"
) -> RedirectResponse:
    """The language picker: remember the choice in a cookie and go back, only ever to a path of this site."""
    if code not in LANGUAGES:
        raise NotFoundError(f"There is no language {code[:20]!r} here.")
    response = RedirectResponse(local_path(next), status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        LANGUAGE_COOKIE,
        code,
        max_age=LANGUAGE_COOKIE_MAX_AGE_S,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response
