"""Fixtures of the fault and abuse suite: the operations tests' two file
stores and SQLite catalog (``registry``, ``db``), and a fresh catalog on
each engine (``any_engine_url``)."""

from tests.ops.conftest import any_engine_url, db, registry  # noqa: F401
