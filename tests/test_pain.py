from __future__ import annotations

import pytest

from monitor.tolerance import pain_zone
from monitor.tolerance.pain import check_nrs


@pytest.mark.parametrize(
    ("nrs", "zone"),
    [(0, "green"), (2, "green"), (2.5, "amber"), (3, "amber"), (5, "amber"), (5.5, "red"), (6, "red"), (10, "red")],
)
def test_pain_zones_follow_the_pinned_model(nrs: float, zone: str) -> None:
    assert pain_zone(nrs) == zone


@pytest.mark.parametrize("bad", [-1, 10.5, float("nan"), "3", None, True])
def test_ratings_off_the_scale_are_refused_with_their_name(bad: object) -> None:
    with pytest.raises(ValueError, match="pain_after must be"):
        check_nrs(bad, name="pain_after")  # type: ignore[arg-type]
