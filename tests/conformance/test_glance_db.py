"""glance 33's own DB API tests, run against the catalog on every engine.

The test classes are glance's (``glance/tests/functional/db``), wired as
glance wires them to its sqlalchemy API (``test_sqlalchemy.py``), with
``get_db``/``reset_db`` swapped for the catalog behind
:class:`tests.conformance.adapter.GlanceDBAPI`. Expected failures and their
reasons: ``expected.py`` and doc/catalog.md.
"""

import functools
import logging
import os
import re
import types
from unittest import mock

import pytest

from tests.catalog import databases
from tests.conformance import adapter, expected
from tests.conformance.conftest import reset


def _import_glance_tests():
    """Import glance's DB test module, undoing what importing
    ``glance.tests`` does to the whole process: a DEBUG root logger writing
    to ``run_tests.log`` in the current directory."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    log_existed = os.path.exists('run_tests.log')
    from glance.tests.functional.db import test_sqlalchemy
    for handler in set(root.handlers) - set(handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    if not log_existed and os.path.exists('run_tests.log'):
        os.remove('run_tests.log')
    return test_sqlalchemy


glance_sqlalchemy = _import_glance_tests()

from glance.api import policy as glance_policy  # noqa: E402 (after the clean-up)
from glance import context as glance_context  # noqa: E402


@pytest.mark.usefixtures('glance_catalog')
class CatalogUnderTest:
    """Runs a glance DB test case on ``self.catalog`` (set by the
    ``glance_catalog`` fixture for the class's ``engine``)."""

    engine = None
    glance_class = None
    catalog = None

    def setUp(self):
        api = adapter.GlanceDBAPI(self.catalog)
        enforcer = _shared_enforcer()
        # glance's setUp calls db_tests.load(get_db, reset_db) with its
        # module's functions: these are looked up when it runs
        patches = [(glance_sqlalchemy, 'get_db', lambda config: api),
                   (glance_sqlalchemy, 'reset_db', lambda db: reset(db.catalog)),
                   # every glance RequestContext builds a policy Enforcer
                   # (10 ms each, most of a test's time); one serves all
                   (glance_context, 'policy', types.SimpleNamespace(
                       Enforcer=lambda: enforcer))]
        for target, name, value in patches:
            patcher = mock.patch.object(target, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)
        super().setUp()

    def set_policy(self):
        """No policy file: the DB API does not read policies (glance's
        version copies one from a path relative to glance's source tree)."""


@functools.lru_cache(maxsize=None)
def _shared_enforcer():
    """One glance policy Enforcer (default rules) for every context."""
    return glance_policy.Enforcer()


GLANCE_CLASSES = (
    glance_sqlalchemy.TestSqlAlchemyDriver,          # DriverTests + 4 of its own
    glance_sqlalchemy.TestSqlAlchemyVisibility,      # VisibilityTests
    glance_sqlalchemy.TestSqlAlchemyMembershipVisibility,
    glance_sqlalchemy.TestSqlAlchemyQuota,           # DriverQuotaTests
    glance_sqlalchemy.TestImageAtomicOps,
    glance_sqlalchemy.TestImageStorageUsage,
)


def _test_classes():
    """One pytest-collected class per glance class and engine."""
    made = {}
    for glance_cls in GLANCE_CLASSES:
        for engine in databases.ENGINES:
            name = '%s_%s' % (glance_cls.__name__, engine)
            made[name] = type(name, (CatalogUnderTest, glance_cls), {
                'engine': engine, 'glance_class': glance_cls.__name__,
                '__module__': __name__})
    return made


globals().update(_test_classes())


def test_expected_failures_name_real_tests():
    """Every test of expected.py exists (a misspelt one would hide nothing)."""
    known = {'%s::%s' % (cls.__name__, name) for cls in GLANCE_CLASSES
             for name in dir(cls) if name.startswith('test_')}
    listed = {key.split('[')[0] for key in expected.EXPECTED}
    assert listed - known == set()
    assert set(expected.EXPECTED.values()) <= set(expected.REASONS)


def _doc_section():
    """The conformance section of doc/catalog.md."""
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'doc', 'catalog.md')
    with open(path, encoding='utf-8') as f:
        return f.read().split("## Conformance with glance's DB tests", 1)[1]


def _doc_rows(text, first_cell):
    """``{first cell: second cell}`` of the table rows of ``text`` whose first
    cell is a backquoted name matching ``first_cell`` (a regex)."""
    return dict(re.findall(r'^\| `(%s)` \| (.*) \|$' % first_cell, text, re.MULTILINE))


def test_doc_lists_the_expected_failures():
    """doc/catalog.md lists every expected failure once, with its reason,
    states each reason with expected.py's text, and counts them right."""
    text = _doc_section()
    tests = _doc_rows(text, r'Test\w+::test_\w+(?:\[\w+\])?')
    assert {t: k.strip('`') for t, k in tests.items()} == expected.EXPECTED
    assert _doc_rows(text, r'[a-z0-9-]+') == expected.REASONS
    total = sum(len([n for n in dir(cls) if n.startswith('test_')]) for cls in GLANCE_CLASSES)
    failing = len(expected.EXPECTED)
    assert 'On each engine %d tests pass and %d fail by design' % (
        total - failing, failing) in ' '.join(text.split())
