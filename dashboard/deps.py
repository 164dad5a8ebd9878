"""Request dependencies: the store the app was created with, and one ORM session per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from monitor.store import Store


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def get_db(store: StoreDep) -> Iterator[Session]:
    with store.session() as db:
        yield db


DbDep = Annotated[Session, Depends(get_db)]
