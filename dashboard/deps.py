"""Request dependencies: the store the app was created with, one ORM session per request, the live feed; row ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from monitor.livefeed import LiveFeed
from monitor.store import Store


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def get_db(store: StoreDep) -> Iterator[Session]:
    with store.session() as db:
        yield db


DbDep = Annotated[Session, Depends(get_db)]


def get_live_feed(request: Request) -> LiveFeed:
    feed: LiveFeed = request.app.state.live_feed
    return feed


LiveFeedDep = Annotated[LiveFeed, Depends(get_live_feed)]


MAX_ROW_ID = 2**63 - 1
"""The largest id a row can have (SQLite's INTEGER, PostgreSQL's bigint); SQLite's driver cannot bind a larger one."""
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
"""A row's id in a path: one out of the database's range is a 422, not a 500 from the driver."""
