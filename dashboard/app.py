"""The FastAPI application: ``create_app(store)`` wires the API, the pages and static files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, status
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, OperationalError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard import (
    accounts,
    api,
    clinical_api,
    i18n,
    ingest_api,
    live,
    pages,
    patient_api,
    patient_pages,
    patient_self_api,
    session_pages,
    sign_in,
)
from dashboard.access_log import keep_personal_data_out_of_the_access_log
from dashboard.auth import FailedAttempts, NotSignedIn, csrf_protect
from dashboard.queries import NotFoundError
from dashboard.schemas import ERROR_RESPONSES, SIGNED_IN_RESPONSES
from monitor.ingest.apply import IngestRejected
from monitor.ingest.wire import MAX_INGEST_BODY_BYTES
from monitor.livefeed import LiveFeed
from monitor.settings import Settings
from monitor.store import SignalStoreUnavailable, Store

STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    # Every script and style is a file of this site (vendored, no inline code), so the policy can be strict.
    b"content-security-policy": b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"x-frame-options": b"DENY",
    b"cache-control": b"no-store",
}
"""Sent with every response; ``cache-control`` is replaced for static files, which hold no patient data."""
MAX_BODY_BYTES = 1024 * 1024
"""The most a request body may hold (forms, JSON), counted as it arrives, before anything parses it; larger is a 413.
``POST /api/ingest`` takes more: ``monitor.ingest.wire.MAX_INGEST_BODY_BYTES``."""


def create_app(store: Store, *, settings: Settings | None = None, live_feed: LiveFeed | None = None) -> FastAPI:
    """The dashboard over ``store``; the caller owns the store and closes it.

    ``live_feed``: the sessions recorded live in this process (give the same feed to the
    recorder), and those hubs stream here; default: only the hubs'.
    """
    settings = settings or Settings()
    keep_personal_data_out_of_the_access_log()
    app = FastAPI(
        title="Dosis dashboard",
        summary="Training sessions of exercise-therapy patients.",
        dependencies=[Depends(csrf_protect)],
        responses=ERROR_RESPONSES,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.live_feed = live_feed or LiveFeed()
    app.state.failed_attempts = FailedAttempts(settings.failed_logins_per_minute)
    app.include_router(sign_in.router)
    app.include_router(sign_in.api, responses=SIGNED_IN_RESPONSES)
    app.include_router(i18n.router)
    app.include_router(api.router, responses=SIGNED_IN_RESPONSES)
    app.include_router(clinical_api.router, responses=SIGNED_IN_RESPONSES)
    app.include_router(patient_api.router, responses=SIGNED_IN_RESPONSES)
    app.include_router(ingest_api.router)
    # Before pages.router: /patients/new is a page of its own, not a patient's pseudonym.
    app.include_router(accounts.router)
    app.include_router(pages.router)
    app.include_router(session_pages.router)
    app.include_router(patient_pages.router)
    app.include_router(patient_self_api.api, responses=SIGNED_IN_RESPONSES)
    app.include_router(accounts.api, responses=SIGNED_IN_RESPONSES)
    app.include_router(live.router, responses=SIGNED_IN_RESPONSES)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Added first, so it runs inside SecurityHeaders: its 413s get the headers too.
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, max_bytes_by_path={"/api/ingest": MAX_INGEST_BODY_BYTES})
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(IngestRejected, _rejected)
    app.add_exception_handler(SignalStoreUnavailable, _unavailable)
    app.add_exception_handler(OperationalError, _unavailable)
    app.add_exception_handler(DataError, _unstorable)
    return app


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"detail": "sign in first"},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=status.HTTP_303_SEE_OTHER)


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response (pure ASGI, so streamed responses stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in SECURITY_HEADERS]
                headers += [(k, v) for k, v in SECURITY_HEADERS.items() if not (static and k == b"cache-control")]
                if static:
                    headers.append((b"cache-control", b"public, max-age=3600"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` as the body passes the limit: the route stops reading and answers 413.

    An ``HTTPException``, because FastAPI turns any other error while it reads a body into a 400.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the body is larger than {max_bytes} bytes, the most taken here",
            # The rest of the body is never read, so the connection cannot carry another request.
            headers={"Connection": "close"},
        )


class BodyLimit:
    """Refuses a request body over ``max_bytes`` (``max_bytes_by_path`` for those paths) with a 413 in JSON.

    A ``Content-Length`` over the limit is refused before the app runs. Otherwise the bytes are
    counted as they arrive, so neither a chunked body without a length nor one longer than its
    ``Content-Length`` said gets past the limit into a parser.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_bytes_by_path: dict[str, int]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_bytes_by_path = max_bytes_by_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes_by_path.get(scope["path"], self.max_bytes)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            await _too_large(max_bytes)(scope, receive, send)
            return
        received = 0
        started = False

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge(max_bytes)
            return message

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_noting_start)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(max_bytes)(scope, receive, send)


def _too_large(max_bytes: int) -> Response:
    error = BodyTooLarge(max_bytes)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)
    return pages.not_found_page(request, str(exc))


async def _invalid(request: Request, exc: Exception) -> Response:
    """422 with where and what, without echoing the input: it may be large, health data, or not even JSON (NaN)."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IngestRejected)
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code)


async def _unavailable(request: Request, exc: Exception) -> Response:
    """A database is down: the client may retry (a hub does, from its spool); nothing was lost."""
    which = "time-series" if isinstance(exc, SignalStoreUnavailable) else "relational"
    return JSONResponse(
        {"detail": f"the {which} database is unavailable; try again"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


async def _unstorable(request: Request, exc: Exception) -> Response:
    """A value the database refuses, nothing stored: PostgreSQL takes no NUL in text, nor text past its column.

    Not echoed: the database's message holds the value, which may be health data.
    """
    return JSONResponse(
        {"detail": "a value cannot be stored: a NUL character, a text too long or a number too large"},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )
