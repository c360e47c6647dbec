"""The support desk's tools: the ``ireserve-salto`` CLI, its commands and files, the
probe against a real Salto KS, and cassette recording."""
