"""Everything that touches Bluetooth: wire formats, readings, device drivers.

The parsers here are pure (bytes in, typed values out) and raise
:class:`MalformedPayload` and nothing else on bad input, so a session can count a
bad notification and carry on.
"""

from drivers.errors import MalformedPayload

__all__ = ["MalformedPayload"]
