"""Accounts on the web: the routers of the pages and API that manage them, for the app to include.

- dashboard/admin_clinicians.py: an administrator manages clinicians' accounts (``/admin``, ``/api/clinicians``);
- dashboard/account_settings.py: one's own language and password (``/account``, ``/me/account``);
- dashboard/patient_access.py: a clinician adds patients, gives them sign-in codes, and sees who saw their data.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from dashboard import account_settings, admin_clinicians, patient_access

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(tags=["accounts"])
for module in (admin_clinicians, account_settings, patient_access):
    # Without prefixes, so the routes' own paths are whole (tests/test_access_matrix.py walks them).
    router.include_router(module.router)
    api.include_router(module.api)
