"""Fixtures of the catalog contract suite.

Every test taking ``db`` runs once per engine (sqlite, postgresql, mariadb).
Each engine gets one fresh database per session, migrated once; tables are
emptied between tests. The database is dropped at the end of the session.
"""

import pytest
import sqlalchemy as sa

from store_kit.catalog import Catalog, models
from store_kit.context import RequestContext
from tests.catalog import databases


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


CLEAN_ORDER = ('dependencies', 'members', 'tags', 'properties', 'locations', 'images')


def clean(db):
    with db.engine.begin() as conn:
        for name in CLEAN_ORDER:
            conn.execute(models.metadata.tables[name].delete())


@pytest.fixture
def db(migrated):
    clean(migrated)
    migrated.resolver = None
    yield migrated
    migrated.resolver = None


@pytest.fixture
def admin():
    return RequestContext(project_id='admin', is_admin=True)


@pytest.fixture
def p1():
    return RequestContext(project_id='p1')


@pytest.fixture
def p2():
    return RequestContext(project_id='p2')


@pytest.fixture
def p3():
    return RequestContext(project_id='p3')


def count_rows(db, table, **where):
    """Rows of ``table`` matching ``where`` (deleted ones included)."""
    t = models.metadata.tables[table]
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t).where(
            *[t.c[k] == v for k, v in where.items()])).scalar()
