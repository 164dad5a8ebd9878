"""Request dependencies: the store the app was created with, one ORM session per request, the live feed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
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
