"""Fixtures of the fault and abuse suite.

* the operations tests' two file stores and SQLite catalog (``registry``,
  ``db``) and a fresh catalog on each engine (``any_engine_url``);
* every test here runs with DEBUG logging captured and every StoreKitError
  message recorded; afterwards no watched secret (the suite's configured
  keys, or anything a test passes to ``watch_secret``) and no unredacted
  URL credential may appear in any of them.
"""

import logging
import re

import pytest

from store_kit import exceptions
from tests.ops.conftest import any_engine_url, db, registry  # noqa: F401

#: Secrets configured somewhere in this suite.
WATCHED = {'AKIAFAULTSUITE000001', 'fault/Suite+secret:key/value'}
#: ``scheme://user:password@`` not redacted to ``***``.
_URL_CREDENTIALS = re.compile(r'://(?!\*\*\*@)[^/\s@\'"]+:[^/\s@\'"]+@')


class _Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts = []

    def emit(self, record):
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 -- a broken record is still checked
            text = '%s %r' % (record.msg, record.args)
        if record.exc_info and record.exc_info[1] is not None:
            text += ' ' + str(record.exc_info[1])
        self.texts.append('%s: %s' % (record.name, text))


@pytest.fixture
def watch_secret():
    """Call with a value that must never show up in logs or errors."""
    extra = set()
    yield extra.add
    WATCHED.update(extra)


@pytest.fixture(autouse=True)
def no_secret_leaves(monkeypatch, watch_secret):
    root = logging.getLogger()
    recorder = _Recorder()
    old_level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    messages = []
    real_init = exceptions.StoreKitError.__init__

    def recording_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        messages.append('%s: %s' % (type(self).__name__, self.msg))
    monkeypatch.setattr(exceptions.StoreKitError, '__init__', recording_init)
    try:
        yield
    finally:
        root.removeHandler(recorder)
        root.setLevel(old_level)
    leaks = find_leaks(recorder.texts + messages)
    assert not leaks, 'secrets left store_kit: %s' % leaks[:3]


def find_leaks(texts):
    """The texts holding a watched secret or an unredacted URL credential."""
    return [t for t in texts
            if any(s in t for s in WATCHED) or _URL_CREDENTIALS.search(t)]
