from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from monitor.capture import (
    CaptureDevice,
    CaptureFormatError,
    CaptureHeader,
    CaptureProblem,
    CaptureReader,
    CaptureRecord,
    write_capture,
)

HEADER = CaptureHeader(
    kind="walking",
    devices=[CaptureDevice(id="strap", model="Generic HR strap", characteristics=[HEART_RATE_MEASUREMENT_UUID])],
)
NOTIFICATIONS = [(1_000 + i, "strap", HEART_RATE_MEASUREMENT_UUID, bytes([0x00, 60 + i])) for i in range(5)]


def read_all(path: Path) -> list[CaptureRecord | CaptureProblem]:
    with CaptureReader(path) as reader:
        return list(reader.records())


@pytest.mark.parametrize("name", ["session.jsonl", "session.jsonl.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert write_capture(path, HEADER, NOTIFICATIONS) == 5
    with CaptureReader(path) as reader:
        assert reader.header == HEADER
        records = list(reader.records())
    assert [(r.t_ns, r.device, r.characteristic, r.payload) for r in records if isinstance(r, CaptureRecord)] == (
        NOTIFICATIONS
    )
    assert [r.line_no for r in records] == [2, 3, 4, 5, 6]


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    (tmp_path / "again").mkdir()
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "again" / "a.jsonl.gz"
    write_capture(first, HEADER, NOTIFICATIONS)
    write_capture(second, HEADER, NOTIFICATIONS)
    assert first.read_bytes() == second.read_bytes()


def test_bad_lines_are_reported_with_their_line_numbers_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    write_capture(path, HEADER, NOTIFICATIONS)
    lines = path.read_text().splitlines()
    good = json.loads(lines[1])
    lines[2] = "{not json"
    lines[3] = json.dumps(good | {"device": "watch"})
    lines.insert(4, json.dumps(good | {"hex": "0g"}))
    lines.insert(5, json.dumps(good | {"t_ns": -5}))
    lines.insert(6, "[1, 2]")
    lines.insert(7, "")
    path.write_text("\n".join(lines) + "\n")
    items = read_all(path)
    problems = {p.line_no: p.message for p in items if isinstance(p, CaptureProblem)}
    assert sorted(problems) == [3, 4, 5, 6, 7]
    assert "not JSON" in problems[3]
    assert "'watch' is not declared" in problems[4]
    assert "not hexadecimal" in problems[5]
    assert "non-negative integer" in problems[6]
    assert "not a JSON object" in problems[7]
    records = [r for r in items if isinstance(r, CaptureRecord)]
    assert [r.line_no for r in records] == [2, 9, 10]
    assert [r.payload[1] for r in records] == [60, 63, 64]


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    many = [(i, "strap", HEART_RATE_MEASUREMENT_UUID, bytes([0, 70]) * 40) for i in range(2000)]
    write_capture(path, HEADER, many)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    items = read_all(path)
    assert isinstance(items[-1], CaptureProblem)
    assert "unreadable" in items[-1].message
    assert len(items) > 100


@pytest.mark.parametrize(
    "first_line",
    [
        "",
        "not json\n",
        json.dumps({"format": "something-else", "version": 1, "devices": []}) + "\n",
        json.dumps(json.loads(HEADER.model_dump_json()) | {"version": 2}) + "\n",
        json.dumps(json.loads(HEADER.model_dump_json()) | {"devices": []}) + "\n",
    ],
)
def test_bad_header_is_a_clear_error(tmp_path: Path, first_line: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(first_line)
    with pytest.raises(CaptureFormatError, match=r"line 1 is not|the file is empty"):
        CaptureReader(path)


def test_not_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(CaptureFormatError, match="unreadable"):
        CaptureReader(path)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
RECORD_FIELDS = {
    "t_ns": st.integers(-5, 2**70),
    "device": st.just("strap"),
    "char": st.just("2a37"),
    "hex": st.just("0050"),
}
LINES = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=60),
    JSON_VALUES.map(json.dumps),
    # A record with any field, or all of them, of any JSON type.
    st.fixed_dictionaries({}, optional={k: st.one_of(v, JSON_VALUES) for k, v in RECORD_FIELDS.items()}).map(
        json.dumps
    ),
)


@given(lines=st.lists(LINES, max_size=12))
@settings(max_examples=200, deadline=None, derandomize=True)
def test_any_lines_give_records_or_problems_one_each(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "any.jsonl"
    path.write_text(HEADER.model_dump_json() + "\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    items = read_all(path)
    assert [item.line_no for item in items] == [n for n, line in enumerate(lines, start=2) if line.strip()]
    for item in items:
        if isinstance(item, CaptureRecord):
            assert item.t_ns >= 0
            assert item.device == "strap"
