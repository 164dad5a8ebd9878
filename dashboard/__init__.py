"""The clinician dashboard: JSON API and server-rendered pages over the store."""

from dashboard.app import create_app

__all__ = ["create_app"]
