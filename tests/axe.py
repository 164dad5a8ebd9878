"""Accessibility checks in browser tests: axe-core (vendored in tests/vendor/) against WCAG 2.0 and 2.1, A and AA.

In a test: ``violations = axe_violations(page)``, then ``assert violations == [], format_violations(violations)``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

# Evaluated rather than added as a <script> element: the dashboard's Content-Security-Policy refuses
# inline scripts, and the page must be tested under its real policy.
_RUN_AXE_JS = """async ([context, options]) => {
    const results = await axe.run(context, options);
    return results.violations;
}"""


@functools.cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page, *, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now; ``exclude`` holds CSS selectors to skip."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    excluded = [[selector] for selector in exclude]
    context: dict[str, Any] = {"exclude": excluded} if excluded else {"include": [["html"]]}
    options = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations"]}
    violations: list[dict[str, Any]] = page.evaluate(_RUN_AXE_JS, [context, options])
    return violations


def format_violations(violations: list[dict[str, Any]]) -> str:
    """One block per rule: its id, impact and help, then each offending element and what to fix."""
    lines = [f"{len(violations)} accessibility violation(s):"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation.get('impact')}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    at {' '.join(map(str, node['target']))}: {node['html']}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n      ")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)
