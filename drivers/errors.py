"""Errors raised by the wire-format parsers."""


class MalformedPayload(ValueError):
    """A BLE payload that does not follow its wire format.

    Raised by every parser in :mod:`drivers` for any bad input, so callers need one
    ``except`` clause to count and skip it.
    """
