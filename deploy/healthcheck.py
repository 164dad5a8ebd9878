#!/usr/bin/env python3
"""The Dosis container's health check: ``GET /healthz`` on the port Dosis serves, as its settings say.

Exits 0 when the server answers 200 (its relational database answers too), 1 otherwise with the
reason on stderr, which Docker keeps in the container's health log. Installed in the image as
``dosis-healthcheck``.
"""

from __future__ import annotations

import sys
import urllib.request

from monitor.settings import Settings

TIMEOUT_S = 5.0


def main() -> int:
    url = f"http://127.0.0.1:{Settings().port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = response.status
    except OSError as error:  # refused, timed out, or an HTTP error status
        print(f"{url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
