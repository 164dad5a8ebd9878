"""The domain: readings to sessions, analysis, storage and the ``dosis`` command line."""
