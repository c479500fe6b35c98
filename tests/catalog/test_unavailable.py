"""When the database fails, CatalogUnavailable says what happened (the
driver's own words, no secrets); a dropped connection is replaced
transparently when a retry can succeed."""

import contextlib
import os
import subprocess

import pytest
import sqlalchemy as sa
from sqlalchemy import event, exc as sa_exc

from store_kit import exceptions
from store_kit.catalog import Catalog
from store_kit.catalog.engine import translate
from store_kit.context import RequestContext
from tests.catalog import databases

OWNER = RequestContext('alice')
#: what each engine's driver says when the server drops the connection
DROPPED = {
    'postgresql': ('terminating connection', 'server closed the connection',
                   'consuming input failed', 'connection is lost'),
    'mariadb': ('Lost connection to', 'server has gone away'),
}


@pytest.fixture(params=['postgresql', 'mariadb'])
def server_db(request, tmp_path):
    url = databases.create_database(request.param, tmp_path)
    db = Catalog(url)
    db.create_schema()
    yield request.param, db
    db.dispose()
    databases.drop_database(request.param, url)


@contextlib.contextmanager
def admin_connection(engine_name):
    engine = databases._admin_engine(engine_name)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def drop_connections(engine_name, admin, database):
    """Kill every server connection to ``database`` but the admin's own."""
    if engine_name == 'postgresql':
        killed = admin.execute(sa.text(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
            'WHERE datname = :db AND pid <> pg_backend_pid()'), {'db': database}).all()
        return len(killed)
    ids = admin.execute(sa.text(
        'SELECT id FROM information_schema.PROCESSLIST WHERE db = :db AND id <> '
        'CONNECTION_ID()'), {'db': database}).scalars().all()
    for ident in ids:
        admin.exec_driver_sql('KILL %d' % ident)
    return len(ids)


def backend_id(engine_name, dbapi_conn):
    if engine_name == 'postgresql':
        return dbapi_conn.info.backend_pid
    return dbapi_conn.thread_id()


def kill_backend(engine_name, admin, ident):
    if engine_name == 'postgresql':
        admin.execute(sa.text('SELECT pg_terminate_backend(:pid)'), {'pid': ident})
    else:
        admin.exec_driver_sql('KILL %d' % ident)


def test_a_dropped_connection_is_replaced_without_the_caller_noticing(server_db):
    engine_name, db = server_db
    image = db.image_create(OWNER, {'name': 'before'})
    database = db.engine.url.database
    with admin_connection(engine_name) as admin:
        assert drop_connections(engine_name, admin, database) >= 1
    assert db.image_get(OWNER, image['id'])['name'] == 'before'
    assert db.image_update(OWNER, image['id'], {'name': 'after'})['name'] == 'after'


def test_a_connection_dropped_on_every_attempt_says_so(server_db):
    """Each attempt's connection is killed by the server before its first
    statement: the retries run out and the error names the driver's cause."""
    engine_name, db = server_db
    image = db.image_create(OWNER, {'name': 'x'})
    with admin_connection(engine_name) as admin:
        @event.listens_for(db.engine, 'engine_connect')
        def _kill(conn):
            dbapi_conn = conn.connection.dbapi_connection
            kill_backend(engine_name, admin, backend_id(engine_name, dbapi_conn))
        try:
            with pytest.raises(exceptions.CatalogUnavailable) as info:
                db.image_get(OWNER, image['id'])
        finally:
            event.remove(db.engine, 'engine_connect', _kill)
    message = str(info.value)
    assert 'image %s' % image['id'] in message
    assert any(words.lower() in message.lower() for words in DROPPED[engine_name]), message
    assert db.image_get(OWNER, image['id'])['name'] == 'x'     # and it recovers


def test_a_full_sqlite_disk_says_so(tmp_path):
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    mount = tmp_path / 'small'
    mount.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', str(mount)],
                   check=True)
    db = None
    try:
        db = Catalog('sqlite:///%s' % (mount / 'catalog.db'))
        db.create_schema()
        with pytest.raises(exceptions.CatalogUnavailable) as info:
            for i in range(10000):
                db.image_create(OWNER, {'name': 'n%d' % i, 'properties': {
                    'p%d' % j: 'v' * 255 for j in range(20)}})
        assert 'database or disk is full' in str(info.value)
        assert str(info.value).startswith('catalog database error during image ')
    finally:
        if db is not None:
            db.dispose()
        subprocess.run(['umount', str(mount)], check=True)


def test_the_cause_never_carries_the_engine_password_or_url_secrets():
    class DriverError(Exception):
        pass
    orig = DriverError('could not connect to postgresql://app:Pa55-w0rd@db.example/cat '
                       'with password Pa55-w0rd via http://u:pw2@proxy/x?token=t0k\n'
                       'second line with Pa55-w0rd')
    err = sa_exc.OperationalError('SELECT 1', {}, orig)
    message = str(translate(err, 'image x', password='Pa55-w0rd'))
    assert message.startswith('catalog database error during image x: could not connect')
    for secret in ('Pa55-w0rd', 'pw2', 't0k', 'second line'):
        assert secret not in message
    blank = sa_exc.OperationalError('SELECT 1', {}, DriverError(''))
    assert str(translate(blank, 'image x')).endswith(': DriverError')


def test_a_sqlite_catalog_whose_directory_cannot_be_made_says_which(tmp_path):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a directory')
    with pytest.raises(exceptions.CatalogUnavailable) as info:
        Catalog('sqlite:///%s' % (blocker / 'sub' / 'catalog.db'))
    assert str(blocker / 'sub') in str(info.value)
    assert 'SQLite catalog' in str(info.value)
