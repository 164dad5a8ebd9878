"""Rendering the pages in the reader's language: ``render(request, "page.html", {...})``.

One Jinja environment per language and time zone, all sharing one template loader. Each is
built once, on first use, with that language's translations (``jinja2.ext.i18n``, newstyle
gettext, so translations are autoescaped and take ``%(name)s`` parameters) and the formatting
filters of that language and zone installed, and is never changed afterwards.

Why not one environment whose translations are swapped per request
(``install_gettext_translations`` before each render)? The environment is shared by every
request, and sync routes run in a thread pool: two requests in different languages rendering at
once would swap each other's translations half-way through a page. Passing ``gettext`` in each
render's context would avoid that for the page itself, but macros imported without context and
the formatting filters would not see it. A frozen environment per (language, zone) has neither
problem; there are three languages and, in practice, one zone per installation.

Every page gets ``lang`` (for ``<html lang>``), ``locale`` (the Babel locale), ``languages``
(the picker's code → own name), ``time_zone`` (its name for the reader), ``user`` (the signed-in
user or None), ``csrf_token`` (the user's, or "") and ``current_path`` (path and query, to come
back to after choosing a language) and ``home_path`` (the user's start page: /me for a patient, / otherwise).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard import formatting, i18n

TEMPLATES_DIR = Path(__file__).parent / "templates"
_LOADER = FileSystemLoader(TEMPLATES_DIR)


@functools.lru_cache(maxsize=32)
def templates_for(language: str, tz: tzinfo) -> Jinja2Templates:
    """The templates of one language and time zone (built once, then only read)."""
    translations = i18n.translations(language)
    locale = i18n.format_locale(language)
    environment = Environment(
        loader=_LOADER,
        autoescape=select_autoescape(default_for_string=True),
        extensions=["jinja2.ext.i18n"],
    )
    # Whitespace in {% trans %} blocks is collapsed; babel.cfg extracts with the same setting, so msgids match.
    environment.policies["ext.i18n.trimmed"] = True
    environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    environment.filters.update(formatting.filters(locale=locale, tz=tz, gettext=translations.gettext))
    environment.globals.update(
        lang=language,
        locale=locale,
        languages=i18n.LANGUAGES,
        time_zone=formatting.time_zone_name(tz, locale=locale),
    )
    return Jinja2Templates(env=environment)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The template ``name`` in the request's language (:func:`dashboard.i18n.negotiate`) and the clinic's zone."""
    language = i18n.negotiate(request)
    user = getattr(request.state, "user", None)
    query = request.url.query
    page_context = {
        "user": user,
        "csrf_token": getattr(user, "csrf_token", ""),
        "current_path": request.url.path + (f"?{query}" if query else ""),
        "home_path": "/me" if getattr(user, "kind", None) == "patient" else "/",
        **(context or {}),
    }
    response: HTMLResponse = templates_for(language, request.app.state.store.tz).TemplateResponse(
        request,
        name,
        page_context,
        status_code=status_code,
        headers={"Content-Language": language, **(headers or {})},
    )
    return response
