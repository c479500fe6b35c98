"""Bulk reads and writes of the locations table, for whole-catalog jobs.

Operations that visit every location (backfill, check) page through it by
id with :meth:`BulkMixin.scan_locations` (keyset pages, one short read each:
memory stays flat and nothing is held locked) and write in batches with
:meth:`BulkMixin.set_location_stores` (one transaction, one ``UPDATE`` per
store, the JSON edited in SQL without reading the rows back).
"""

import collections
import re

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import models

locations = models.locations

#: SQL reading metadata['store'] as text, per dialect (column ``meta_data``).
STORE_EXPR = {
    'sqlite': "json_extract(meta_data, '$.store')",
    'postgresql': "(meta_data ->> 'store')",
    'mysql': "JSON_UNQUOTE(JSON_EXTRACT(meta_data, '$.store'))",
}
#: SQL setting metadata['store'] to :store, keeping the other keys.
SET_STORE_SQL = {
    'sqlite': "json_set(coalesce(meta_data, '{}'), '$.store', :store)",
    'postgresql': "jsonb_set(coalesce(meta_data, CAST('{}' AS jsonb)), '{store}', "
                  "to_jsonb(CAST(:store AS text)))",
    'mysql': "JSON_SET(coalesce(meta_data, '{}'), '$.store', :store)",
}
_IN_CHUNK = 5000
_SAFE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


def ids_by_store(updates):
    """``{store: [location ids, sorted]}`` of ``[(location_id, store), ...]``;
    a store name outside the registry's name pattern is Invalid (names are
    rendered into SQL)."""
    by_store = collections.defaultdict(list)
    for loc_id, name in updates:
        if not isinstance(name, str) or not _SAFE_NAME.match(name):
            raise exceptions.Invalid('bad store name %r' % (name,))
        by_store[name].append(int(loc_id))
    for ids in by_store.values():
        ids.sort()
    return by_store


def update_by_store(conn, update, by_store):
    """Run ``update % store-literal`` (an ``UPDATE ... SET ...`` whose
    ``%s`` takes the quoted store name) for each store of *by_store* (from
    :func:`ids_by_store`) and chunk of its ids; returns the rows written.

    Ids are integers and names checked, so both are rendered inline, which
    spares the per-parameter cost of long IN lists; the ``BETWEEN`` keeps
    every planner on the primary key, even before statistics exist.
    """
    written = 0
    for name, ids in by_store.items():
        head = update % ("'%s'" % name)
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i:i + _IN_CHUNK]
            written += conn.exec_driver_sql('%s WHERE id BETWEEN %d AND %d AND id IN (%s)' % (
                head, chunk[0], chunk[-1], ','.join(map(str, chunk)))).rowcount
    return written


class BulkMixin:
    """Whole-table location methods of :class:`store_kit.catalog.Catalog`."""

    @property
    def _sql_dialect(self):
        return 'mysql' if self.dialect == 'mariadb' else self.dialect

    def count_live_locations(self):
        """How many non-deleted locations there are (a progress total)."""
        return self._run(lambda conn: conn.execute(sa.select(sa.func.count()).where(
            locations.c.status != 'deleted')).scalar(), what='location count')

    def scan_locations(self, batch_size=10000, after_id=0):
        """Yield lists of ``(id, url, store)`` of non-deleted locations.

        ``store`` is ``metadata['store']`` or None.  Keyset pages by id
        after *after_id*, one short read each.
        """
        return self._pages('SELECT l.id, l.url, %s FROM locations l', batch_size, after_id)

    def set_location_stores(self, updates):
        """Write ``metadata['store']`` for ``[(location_id, store), ...]``.

        One transaction, one ``UPDATE`` per store and chunk of ids
        (:func:`update_by_store`).  Returns the number of updates.
        """
        by_store = ids_by_store(updates)
        if not by_store:
            return 0
        update = 'UPDATE locations SET meta_data = %s' % SET_STORE_SQL[
            self._sql_dialect].replace(':store', '%s')

        def fn(conn):
            if self.dialect == 'postgresql':
                # a batch lost in a crash stays legacy for the next
                # (idempotent) run: no need to wait for the WAL flush
                conn.exec_driver_sql('SET LOCAL synchronous_commit = off')
            update_by_store(conn, update, by_store)
        self._run(fn, write=True, what='location store names')
        return sum(len(ids) for ids in by_store.values())

    def scan_locations_for_check(self, batch_size=10000, after_id=0):
        """Yield lists of ``(id, image_id, url, status, store, image_size,
        url_key)`` of non-deleted locations, keyset by id (what ``store-kit
        check`` compares with the stores)."""
        return self._pages('SELECT l.id, l.image_id, l.url, l.status, %s, i.size, l.url_key '
                           'FROM locations l JOIN images i ON i.id = l.image_id',
                           batch_size, after_id)

    def _pages(self, select, batch_size, after_id):
        """Keyset pages (lists of tuples, first column ``l.id``) of *select*
        (``%s`` standing for ``metadata['store']``) over the non-deleted
        locations ``l``, one short read each."""
        if batch_size < 1:
            raise exceptions.Invalid('batch size must be >= 1, got %r' % (batch_size,))
        sql = (select % STORE_EXPR[self._sql_dialect].replace('meta_data', 'l.meta_data')
               + " WHERE l.id > %%d AND l.status != 'deleted' ORDER BY l.id LIMIT %d"
               % int(batch_size))
        return self._page_rows(sql, int(after_id or 0))

    def _page_rows(self, sql, last):
        while True:
            rows = self._run(lambda conn: conn.exec_driver_sql(sql % last).cursor.fetchall(),
                             what='location scan')
            if not rows:
                return
            last = rows[-1][0]
            yield [tuple(r) for r in rows]
