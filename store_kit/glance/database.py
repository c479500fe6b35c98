"""glance's own database, as the bulk jobs need it: the ``image_locations``
table (``value`` is the URL, ``meta_data`` JSON text) joined to ``images``.

Only SQLAlchemy; glance is not imported.  Nothing here changes the schema
or any table but ``image_locations`` (``meta_data`` and ``updated_at`` of
rows that :meth:`GlanceDatabase.set_location_stores` is given).  A schema whose
alembic revision is not one of :data:`KNOWN_REVISIONS` is refused before
anything is read.
"""

import collections
import datetime
import importlib.util

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import bulk

#: glance's alembic revisions (Liberty to 2024.1, the newest as of glance 33)
#: whose ``images`` and ``image_locations`` columns this module reads.
KNOWN_REVISIONS = frozenset([
    'liberty', 'mitaka01', 'mitaka02',
    'ocata_expand01', 'ocata_contract01',
    'pike_expand01', 'pike_contract01',
    'queens_expand01', 'queens_contract01',
    'rocky_expand01', 'rocky_expand02', 'rocky_contract01', 'rocky_contract02',
    'train_expand01', 'train_contract01',
    'ussuri_expand01', 'ussuri_contract01',
    'wallaby_expand01', 'wallaby_contract01',
    'xena_expand01', 'xena_contract01',
    'yoga_expand01', 'yoga_contract01',
    'zed_expand01', 'zed_contract01',
    '2023_1_expand01', '2023_1_contract01',
    '2024_1_expand01', '2024_1_contract01',
])

#: SQL setting ``meta_data['store']`` (JSON text) to :store, keeping the
#: other keys, per dialect.
_SET_STORE = {
    'sqlite': "json_set(coalesce(nullif(meta_data, ''), '{}'), '$.store', :store)",
    'postgresql': "CAST(jsonb_set(CAST(coalesce(nullif(meta_data, ''), '{}') AS jsonb), "
                  "'{store}', to_jsonb(CAST(:store AS text))) AS text)",
    'mysql': "JSON_SET(coalesce(nullif(meta_data, ''), '{}'), '$.store', :store)",
}

#: One row of a scan: ``meta`` is the raw JSON text; ``image_size`` the
#: image's recorded size (or None).
Row = collections.namedtuple('Row', 'id image_id url meta status image_size')


def _batch(size):
    if not isinstance(size, int) or size < 1:
        raise exceptions.Invalid('batch size must be >= 1, got %r' % (size,))
    return size


class UnknownGlanceSchema(exceptions.StoreKitError):
    """The glance database has a schema version store-kit does not know."""


def engine_url(url):
    """*url* with a PostgreSQL driver that is installed: glance configs say
    ``postgresql://`` or ``postgresql+psycopg2://``; store_kit ships
    psycopg 3."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() == 'postgresql' and u.get_driver_name() in (
            'psycopg2', None, '') and importlib.util.find_spec('psycopg2') is None:
        u = u.set(drivername='postgresql+psycopg')
    return u


def safe_url(url):
    """A database URL with its password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 -- unparseable: show nothing of it
        return '(unparseable URL)'


def _sqlite_cache(dbapi_conn, _record):
    # A batch's UPDATEs (one per store) revisit the same pages: a page cache
    # holding them all (this connection only, nothing persistent).
    cur = dbapi_conn.cursor()
    cur.execute('PRAGMA cache_size = -65536')
    cur.close()


class GlanceDatabase:
    """glance's database at *url* (glance-api.conf ``[database]
    connection``)."""

    def __init__(self, url):
        if not url:
            raise exceptions.BadStoreConfiguration(
                'database', 'connection', 'not set; glance-api.conf names '
                'glance\'s database there')
        self.url = url
        try:
            u = engine_url(url)
            kwargs = {'pool_size': 5, 'max_overflow': 5, 'pool_pre_ping': True}
            if u.get_backend_name() == 'sqlite':
                kwargs = {'connect_args': {'timeout': 30}}
            self.engine = sa.create_engine(u, **kwargs)
            if u.get_backend_name() == 'sqlite':
                sa.event.listen(self.engine, 'connect', _sqlite_cache)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise exceptions.BadStoreConfiguration(
                'database', 'connection', 'cannot use %s: %s'
                % (safe_url(url), type(exc).__name__))
        name = self.engine.dialect.name
        self.dialect = 'mysql' if name == 'mariadb' else name
        if self.dialect not in _SET_STORE:
            raise exceptions.BadStoreConfiguration(
                'database', 'connection', 'unsupported database %r' % name)

    def _run(self, fn, write=False, what='query'):
        try:
            with (self.engine.begin() if write else self.engine.connect()) as conn:
                return fn(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise exceptions.CatalogUnavailable(
                'glance database %s: %s failed: %s'
                % (safe_url(self.url), what,
                   ' '.join(str(getattr(exc, 'orig', exc)).split())[:300]))

    # -- schema ----------------------------------------------------------------

    def schema_versions(self):
        """glance's alembic revisions (several during a rolling upgrade), or
        None when there is no ``alembic_version`` table."""
        def fn(conn):
            if not sa.inspect(conn).has_table('alembic_version'):
                return None
            return sorted(r[0] for r in conn.exec_driver_sql(
                'SELECT version_num FROM alembic_version'))
        return self._run(fn, what='schema version')

    def check_schema(self):
        """Refuse (:class:`UnknownGlanceSchema`, naming the version found) a
        database whose schema store-kit does not know."""
        versions = self.schema_versions()
        where = 'glance database %s' % safe_url(self.url)
        if versions is None:
            raise UnknownGlanceSchema(
                '%s has no alembic_version table: not a glance database, or '
                'one older than Liberty (run glance-manage db_sync)' % where)
        unknown = [v for v in versions if v not in KNOWN_REVISIONS]
        if not versions or unknown:
            raise UnknownGlanceSchema(
                '%s has schema version %s, which store-kit does not know '
                '(it knows liberty to 2024_1_contract01); nothing was read or '
                'written' % (where, ', '.join(unknown or ['(none)'])))
        return versions

    # -- reads -------------------------------------------------------------------

    def count_locations(self):
        """Rows the scans visit (status active or pending_delete)."""
        return self._run(lambda conn: conn.exec_driver_sql(
            "SELECT count(*) FROM image_locations WHERE status != 'deleted'"
        ).scalar(), what='location count')

    def scan(self, batch_size=10000, after_id=0):
        """Yield lists of ``(id, image_id, url, meta_data text)`` of the
        locations that are not deleted (``active`` or ``pending_delete``),
        keyset pages by id: one short read each, memory flat."""
        sql = ('SELECT id, image_id, value, meta_data FROM image_locations '
               "WHERE id > %%d AND status != 'deleted' ORDER BY id LIMIT %d"
               % _batch(batch_size))
        return self._pages(sql, after_id, tuple)

    def scan_active(self, batch_size=10000, after_id=0):
        """Yield lists of :data:`Row` of the active locations, with their
        image's size, keyset pages by id."""
        sql = ('SELECT l.id, l.image_id, l.value, l.meta_data, l.status, i.size '
               'FROM image_locations l JOIN images i ON i.id = l.image_id '
               "WHERE l.id > %%d AND l.status = 'active' ORDER BY l.id LIMIT %d"
               % _batch(batch_size))
        return self._pages(sql, after_id, lambda r: Row(*r))

    def _pages(self, sql, after_id, make):
        last = int(after_id or 0)
        while True:
            rows = self._run(lambda conn: conn.exec_driver_sql(sql % last).cursor.fetchall(),
                             what='location scan')
            if not rows:
                return
            last = rows[-1][0]
            yield [make(r) for r in rows] if make is not tuple else rows

    # -- writes ------------------------------------------------------------------

    def set_location_stores(self, updates):
        """Write ``meta_data['store']`` for ``[(location_id, store), ...]``
        (other keys kept, ``updated_at`` set): one transaction, one UPDATE
        per store and chunk of ids.  Returns how many rows were written."""
        by_store = bulk.ids_by_store(updates)
        if not by_store:
            return 0
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        update = "UPDATE image_locations SET meta_data = %s, updated_at = '%s'" % (
            _SET_STORE[self.dialect].replace(':store', '%s'),
            now.isoformat(sep=' ', timespec='microseconds'))

        def fn(conn):
            if self.dialect == 'postgresql':
                # A commit lost in a crash leaves its rows legacy, for the
                # next (idempotent) run: no need to wait for the WAL flush.
                conn.exec_driver_sql('SET LOCAL synchronous_commit = off')
            return bulk.update_by_store(conn, update, by_store)
        return self._run(fn, write=True, what='location store names')

    def dispose(self):
        self.engine.dispose()
