"""Fixtures of the catalog contract suite.

Every test taking ``db`` runs once per engine (sqlite, postgresql, mariadb).
Each engine gets one fresh database per session, migrated once; tables are
emptied between tests. The database is dropped at the end of the session.
"""

import pytest

from store_kit.catalog import Catalog
from tests.catalog import databases
from tests.catalog.helpers import clean


@pytest.fixture(scope='session', params=databases.ENGINES)
def engine_name(request):
    return request.param


@pytest.fixture(scope='session')
def catalog_url(engine_name, tmp_path_factory):
    url = databases.create_database(engine_name, tmp_path_factory.mktemp('catalog'))
    yield url
    databases.drop_database(engine_name, url)


@pytest.fixture(scope='session')
def migrated(catalog_url):
    db = Catalog(catalog_url)
    db.create_schema()
    yield db
    db.dispose()


@pytest.fixture
def db(migrated):
    clean(migrated)
    migrated.resolver = None
    yield migrated
    migrated.resolver = None


@pytest.fixture
def empty_url(engine_name, tmp_path):
    """A new empty database (no schema) on each engine, dropped afterwards."""
    url = databases.create_database(engine_name, tmp_path)
    yield url
    databases.drop_database(engine_name, url)
