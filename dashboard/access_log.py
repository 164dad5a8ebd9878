"""uvicorn's access log without personal data: no client addresses, no query strings.

A query string can carry a patient's sign-in code (``/signin?code=…``, the link a clinician
hands out), and a client address ties a patient's phone to their visits: neither belongs in a
log that operators read and keep. Who saw which patient is in the audit log, by user.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class WithoutPersonalData(logging.Filter):
    """Rewrites uvicorn's access records, ``'%s - "%s %s HTTP/%s" %d'``: the address and the query go."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            _address, method, path, http_version, status_code = record.args
            record.args = ("-", method, str(path).split("?", 1)[0], http_version, status_code)
        return True


def keep_personal_data_out_of_the_access_log() -> None:
    """Install the filter on uvicorn's access logger once; uvicorn's logging setup keeps a logger's filters."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, WithoutPersonalData) for f in logger.filters):
        logger.addFilter(WithoutPersonalData())
