"""The stages composed: a poll from claim to match, the processing of stored items (dedupe, then
matching), the seed import, ``explain`` and ``rematch``. The daemon, the CLI and the tests all
drive these functions."""
