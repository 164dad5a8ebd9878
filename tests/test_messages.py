from __future__ import annotations

import pytest

from monitor.tolerance.messages import ENGLISH, Message, placeholders


def test_numbers_are_shown_as_clinicians_read_them() -> None:
    message = Message("flag.weekly_load_rise", {"percent": 92.8, "previous": 290, "current": 560, "cap": 10.0})
    assert message.english() == (
        "Weekly load rose by 92.8% over its recent level (290 to 560 AU), above the cap of 10%."
    )


def test_nested_messages_render_and_stay_keys_in_json() -> None:
    question = Message("red_flag.fever")
    message = Message("flag.red_flag", {"day": "2026-09-02", "question": question})
    assert "fever" in message.english()
    assert message.as_dict() == {
        "key": "flag.red_flag",
        "params": {"day": "2026-09-02", "question": {"key": "red_flag.fever", "params": {}}},
    }


def test_unknown_keys_are_refused_and_params_cannot_change() -> None:
    with pytest.raises(KeyError, match="no message"):
        Message("flag.nonsense")
    message = Message("flag.missed_sessions", {"done": 1, "prescribed": 3})
    with pytest.raises(TypeError):
        message.params["done"] = 3  # type: ignore[index]


def test_every_template_parses_and_keys_are_namespaced() -> None:
    prefixes = {"verdict", "report", "flag", "quality", "red_flag", "advice", "unit", "measure"}
    for key, template in ENGLISH.items():
        assert key.split(".")[0] in prefixes, key
        assert all(name.isidentifier() for name in placeholders(template)), key
