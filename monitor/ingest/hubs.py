"""The hub registry: each hub streams with a token of its own, stored only as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.ingest.apply import Hub
from monitor.store import Device, Store

TOKEN_PREFIX = "dosis_hub_"
"""Makes a leaked token recognisable to secret scanners and to whoever finds it in a file."""


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register_hub(store: Store, name: str) -> str:
    """Register a hub; returns its token, which is shown once and never stored."""
    if not name or len(name) > 100:
        raise ValueError("a hub's name is 1 to 100 characters, e.g. where it stands: gym-north")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.session() as db:
        db.add(Device(kind="hub", name=name, token_sha256=token_sha256(token), created_at=datetime.now(UTC)))
        try:
            db.commit()
        except IntegrityError as error:
            raise ValueError(f"a hub named {name!r} is already registered") from error
    return token


def revoke_hub(store: Store, name: str) -> None:
    with store.session() as db:
        hub = db.scalar(select(Device).where(Device.kind == "hub", Device.name == name))
        if hub is None:
            raise KeyError(f"no hub named {name!r}")
        hub.revoked_at = hub.revoked_at or datetime.now(UTC)
        db.commit()


def list_hubs(store: Store) -> list[Device]:
    with store.session() as db:
        return list(db.scalars(select(Device).where(Device.kind == "hub").order_by(Device.name)))


def hub_for_token(store: Store, token: str) -> Hub | None:
    """The hub this token belongs to, unless it is unknown or revoked."""
    with store.session() as db:
        hub = db.scalar(
            select(Device).where(
                Device.kind == "hub", Device.token_sha256 == token_sha256(token), Device.revoked_at.is_(None)
            )
        )
        return None if hub is None else Hub(hub.id, hub.name)
