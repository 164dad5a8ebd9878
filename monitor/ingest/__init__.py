"""Hubs streaming sessions to a Dosis server: the wire messages, the server's side, the hub's spool."""
