"""Fresh throw-away databases on the three engines the catalog supports."""

import os
import uuid

import sqlalchemy as sa

from tests.helpers import require_servers, skip_or_fail  # noqa: F401

SERVERS = {
    'postgresql': 'postgresql+psycopg://postgres@127.0.0.1:5432/%s',
    'mariadb': 'mysql+pymysql://root@127.0.0.1:3306/%s?charset=utf8mb4',
}
ADMIN_DB = {'postgresql': 'postgres', 'mariadb': 'mysql'}
ENGINES = ('sqlite', 'postgresql', 'mariadb')


def _admin_engine(engine_name):
    url = SERVERS[engine_name] % ADMIN_DB[engine_name]
    if engine_name == 'postgresql':
        return sa.create_engine(url, isolation_level='AUTOCOMMIT',
                                connect_args={'connect_timeout': 3})
    return sa.create_engine(url, connect_args={'connect_timeout': 3})


def create_database(engine_name, tmp_dir):
    """A URL of a new empty database (skips or fails if the server is down)."""
    name = 'store_kit_test_%s' % uuid.uuid4().hex[:12]
    if engine_name == 'sqlite':
        return 'sqlite:///%s' % os.path.join(str(tmp_dir), name, 'catalog.db')
    engine = _admin_engine(engine_name)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql('CREATE DATABASE %s' % name)
            conn.commit()
    except sa.exc.OperationalError as err:
        skip_or_fail('%s server on 127.0.0.1 unreachable: %s' % (engine_name, err.orig))
    finally:
        engine.dispose()
    return SERVERS[engine_name] % name


def drop_database(engine_name, url):
    """Drop the database behind ``url`` (a no-op for SQLite files in tmp)."""
    if engine_name == 'sqlite':
        return
    name = sa.engine.make_url(url).database
    engine = _admin_engine(engine_name)
    try:
        with engine.connect() as conn:
            if engine_name == 'postgresql':
                conn.exec_driver_sql('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
            else:
                conn.exec_driver_sql('DROP DATABASE IF EXISTS %s' % name)
            conn.commit()
    finally:
        engine.dispose()
