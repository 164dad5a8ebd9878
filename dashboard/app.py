"""The FastAPI application: ``create_app(store)`` wires the API, the pages and static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError

from dashboard import api, clinical_api, ingest_api, pages
from dashboard.queries import NotFoundError
from monitor.ingest.apply import IngestRejected
from monitor.store import SignalStoreUnavailable, Store

STATIC_DIR = Path(__file__).parent / "static"


def create_app(store: Store) -> FastAPI:
    """The dashboard over ``store``; the caller owns the store and closes it."""
    app = FastAPI(title="Dosis dashboard", summary="Training sessions of exercise-therapy patients.")
    app.state.store = store
    app.include_router(api.router)
    app.include_router(clinical_api.router)
    app.include_router(ingest_api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(IngestRejected, _rejected)
    app.add_exception_handler(SignalStoreUnavailable, _unavailable)
    app.add_exception_handler(OperationalError, _unavailable)
    return app


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
