"""Engines and transactions: per-engine set-up, retries, error translation.

Every catalog call runs as one function inside one transaction
(:func:`run_in_transaction`). Serialisation failures and deadlocks are
retried at that boundary; a unique-key race is retried too (the retry sees
the winner's row and reports a clean :class:`~store_kit.exceptions.Duplicate`).
No raw driver error leaves this module.
"""

import os
import random
import time

import sqlalchemy as sa
from sqlalchemy import event, exc as sa_exc
from sqlalchemy.pool import StaticPool

from store_kit import driver, exceptions
from store_kit import location as loc_mod

WRITE_OPTION = 'store_kit_write'
MAX_ATTEMPTS = 12
#: Longest driver message quoted in a CatalogUnavailable.
_CAUSE_MAX = 200


def make_engine(url):
    """Create the engine for ``url`` with the settings its dialect needs.

    Every engine hides statement parameters (location URLs may hold
    credentials) from log lines and error texts, and SQLAlchemy's loggers
    get the drivers' secret filter (at DEBUG they log result rows).
    """
    u = parse_url(url)
    engine = _sqlite_engine(u) if u.get_backend_name() == 'sqlite' else _server_engine(u)
    driver.filter_logs(('sqlalchemy',))     # its Engine logger exists from now on
    return engine


def _server_engine(u):
    backend = u.get_backend_name()
    kwargs = {'hide_parameters': True}
    if backend in ('mysql', 'mariadb'):
        # Same isolation as PostgreSQL's default: each statement sees the
        # latest committed rows once a lock is granted.
        kwargs['isolation_level'] = 'READ COMMITTED'
    engine = sa.create_engine(u, **kwargs)
    if backend in ('mysql', 'mariadb'):
        @event.listens_for(engine, 'connect')
        def _on_connect(dbapi_conn, _record):
            # MariaDB stops WITH RECURSIVE after 1000 iterations by default,
            # silently: a deeper dependency chain would be cut short.
            cur = dbapi_conn.cursor()
            cur.execute("SHOW VARIABLES LIKE 'max_recursive_iterations'")
            if cur.fetchall():
                cur.execute('SET SESSION max_recursive_iterations = 4294967295')
            cur.close()
    return engine


def parse_url(url):
    """``url`` as a SQLAlchemy URL whose dialect and driver load, or
    :class:`BadStoreConfiguration` for ``[catalog] connection`` that never
    echoes the URL (it may hold a password)."""
    try:
        u = sa.engine.make_url(url)
    except (ValueError, TypeError, sa_exc.ArgumentError):
        raise exceptions.BadStoreConfiguration(
            'catalog', 'connection', 'not a valid SQLAlchemy URL (expected '
            'dialect+driver://user:password@host:port/database; the value is '
            'not shown, it may hold a password)') from None
    if u.port is not None and not 0 < u.port < 65536:
        raise exceptions.BadStoreConfiguration(
            'catalog', 'connection', 'port %d is out of range' % u.port)
    try:
        dialect = u.get_dialect()
    except sa_exc.ArgumentError:
        raise exceptions.BadStoreConfiguration(
            'catalog', 'connection', 'unknown database dialect or driver %r'
            % u.drivername) from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise exceptions.BadStoreConfiguration(
            'catalog', 'connection', 'the driver of %r is not installed (%s)'
            % (u.drivername, exc)) from None
    return u


def _sqlite_engine(u):
    memory = u.database in (None, '', ':memory:')
    if memory:
        engine = sa.create_engine(u, poolclass=StaticPool, hide_parameters=True,
                                  connect_args={'check_same_thread': False})
    else:
        parent = os.path.dirname(os.path.abspath(u.database))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise exceptions.CatalogUnavailable(
                'cannot create the directory %s of the SQLite catalog: %s'
                % (parent, exc.strerror or exc)) from None
        engine = sa.create_engine(u, hide_parameters=True,
                                  connect_args={'check_same_thread': False, 'timeout': 30})

    @event.listens_for(engine, 'connect')
    def _on_connect(dbapi_conn, _record):
        # Take transaction control away from pysqlite: we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute('PRAGMA journal_mode=WAL')
            cur.execute('PRAGMA synchronous=NORMAL')
        cur.execute('PRAGMA foreign_keys=ON')
        cur.execute('PRAGMA busy_timeout=30000')
        cur.close()

    @event.listens_for(engine, 'begin')
    def _on_begin(conn):
        # Writers take the write lock up front: no deadlock-prone upgrade.
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql('BEGIN IMMEDIATE' if write else 'BEGIN')

    return engine


def _driver_code(err):
    orig = getattr(err, 'orig', None)
    for attr in ('sqlstate',):          # psycopg 3
        code = getattr(orig, attr, None)
        if code:
            return str(code)
    args = getattr(orig, 'args', ())
    if args and isinstance(args[0], int):   # PyMySQL
        return args[0]
    return None


def is_retryable(err):
    """True for serialisation failures, deadlocks, busy SQLite files and
    connections found dead (the pool replaces them; no pre-ping round trip)."""
    if not isinstance(err, sa_exc.DBAPIError):
        return False
    if err.connection_invalidated:
        return True
    code = _driver_code(err)
    if code in ('40001', '40P01', 1213, 1205):
        return True
    msg = str(getattr(err, 'orig', err)).lower()
    return 'database is locked' in msg or 'database is busy' in msg


def cause(err, password=None):
    """What the driver said, fit for a message: its first line, with the
    credentials and query strings of URLs and the engine's ``password``
    replaced, shortened; the error's class name when it said nothing."""
    orig = getattr(err, 'orig', None) or err
    try:
        lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    except Exception:  # noqa: BLE001 -- a broken __str__ must not hide the error
        lines = []
    if not lines:
        return type(orig).__name__
    text = lines[0]
    if password:
        text = text.replace(str(password), '***')
    text = loc_mod.redact_text(text)
    if len(text) > _CAUSE_MAX:
        text = text[:_CAUSE_MAX - 3] + '...'
    return text


def translate(err, what='catalog', password=None):
    """Turn a driver error into a store_kit exception.

    ``password`` (the engine URL's) never appears in the message.
    """
    if isinstance(err, sa_exc.DataError):
        return exceptions.Invalid('%s: a value does not fit its column' % what)
    if isinstance(err, sa_exc.IntegrityError):
        msg = str(err.orig).lower()
        if 'foreign key' in msg:
            return exceptions.Invalid('%s refers to a row that does not exist' % what)
        return exceptions.Duplicate('%s already exists' % what)
    return exceptions.CatalogUnavailable('catalog database error during %s: %s'
                                         % (what, cause(err, password)))


def run_in_transaction(engine, fn, write=False, what='catalog', autocommit=False):
    """Run ``fn(conn)`` in one transaction, retrying transient failures.

    ``what`` names the operation in errors (e.g. ``member m1 of image X``).
    ``autocommit`` (reads on PostgreSQL): skip BEGIN/COMMIT. At READ COMMITTED
    every statement sees its own snapshot either way, so only round trips
    are saved.
    """
    integrity_retried = False
    password = engine.url.password
    for attempt in range(MAX_ATTEMPTS):
        try:
            with engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                elif autocommit:
                    conn.execution_options(isolation_level='AUTOCOMMIT')
                with conn.begin():
                    return fn(conn)
        except sa_exc.IntegrityError as err:
            # A concurrent insert won a unique-key race; re-run once so the
            # function sees the committed row and answers from the data.
            if write and not integrity_retried:
                integrity_retried = True
                continue
            raise translate(err, what, password) from None
        except sa_exc.DBAPIError as err:
            if is_retryable(err) and attempt < MAX_ATTEMPTS - 1:
                time.sleep(min(0.5, 0.005 * (2 ** attempt)) * random.random())
                continue
            raise translate(err, what, password) from None
    raise exceptions.CatalogUnavailable('%s: too many retries' % what)
