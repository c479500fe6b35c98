"""Bulk backfill: write ``metadata['store']`` for every legacy location.

Walks the catalog's live locations in id order (keyset pages: memory stays
flat however big the catalog), asks the database only for those whose
``metadata['store']`` names no enabled store, resolves them and writes the
names with one transaction per batch: one ``UPDATE ... WHERE id IN (...)``
per store, the JSON edited in SQL.  Interrupting it loses at most the batch
in flight; a rerun finds only what is still missing (idempotent).
"""

import collections
import concurrent.futures
import dataclasses
import re

import sqlalchemy as sa

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog import models


@dataclasses.dataclass
class BackfillReport:
    """What a backfill run saw and did."""

    scanned: int = 0
    already: int = 0            # metadata already named an enabled store
    resolved: int = 0           # written (or, in a dry run, would be)
    unresolved: int = 0
    #: ``{(scheme, host): count}`` of the locations no store owns
    unresolved_by_origin: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)

    def summary_lines(self, dry_run=False):
        """Plain-text summary; hosts only, never credentials."""
        verb = 'would write' if dry_run else 'wrote'
        lines = ['%d locations scanned: %d already had a store, %s %d, '
                 '%d unresolved' % (self.scanned, self.already, verb,
                                    self.resolved, self.unresolved)]
        if self.unresolved:
            lines.append('unresolved locations by scheme and host:')
            for (scheme, host), n in sorted(self.unresolved_by_origin.items(),
                                            key=lambda kv: (-kv[1], kv[0])):
                lines.append('  %8d  %s://%s' % (n, scheme, host))
        return lines


def origin(url):
    """``(scheme, host[:port])`` of *url*, without credentials."""
    try:
        parsed = loc_mod.parse(url)
    except exceptions.StoreKitError:
        scheme = url.split('://', 1)[0].lower() if '://' in str(url) else '?'
        return (scheme if scheme.isalnum() else '?'), '(unparseable)'
    return parsed.scheme, parsed.netloc


def count_live_locations(db):
    """How many locations the walk will visit (for a progress total)."""
    t = models.locations
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(
            t.c.status != 'deleted')).scalar()


def resolve_batch(registry, missing, report):
    """``[(location_id, store)]`` for ``[(location_id, url)]``; counts the
    unresolved ones in *report*."""
    resolve = registry.resolve
    updates = []
    for loc_id, url in missing:
        try:
            name = resolve(url)
        except exceptions.StoreKitError:
            name = None
        if name is None:
            report.unresolved += 1
            report.unresolved_by_origin[origin(url)] += 1
        else:
            updates.append((loc_id, name))
    report.resolved += len(updates)
    return updates


#: SQL reading metadata['store'] as text, per dialect.
_STORE_EXPR = {
    'sqlite': "json_extract(meta_data, '$.store')",
    'postgresql': "(meta_data ->> 'store')",
    'mysql': "JSON_UNQUOTE(JSON_EXTRACT(meta_data, '$.store'))",
}
#: SQL setting metadata['store'] to :store, keeping the other keys.
_SET_STORE = {
    'sqlite': "json_set(coalesce(meta_data, '{}'), '$.store', :store)",
    'postgresql': "jsonb_set(coalesce(meta_data, CAST('{}' AS jsonb)), '{store}', "
                  "to_jsonb(CAST(:store AS text)))",
    'mysql': "JSON_SET(coalesce(meta_data, '{}'), '$.store', :store)",
}
_IN_CHUNK = 5000
_SAFE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


def _dialect(db):
    return 'mysql' if db.dialect == 'mariadb' else db.dialect


def iter_missing(db, enabled, batch_size):
    """Yield ``(scanned, [(id, url), ...])`` per page of live locations, the
    list holding those whose metadata names no store in *enabled*.  Keyset
    pages by id, one short read each."""
    store = _STORE_EXPR[_dialect(db)]
    sql = ('SELECT id, url, %s FROM locations WHERE id > %%d '
           "AND status != 'deleted' ORDER BY id LIMIT %d" % (store, int(batch_size)))
    last = 0
    while True:
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(sql % last).cursor.fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield len(rows), [(r[0], r[1]) for r in rows if r[2] not in enabled]


def write_batch(db, updates):
    """Write ``[(id, store)]`` in one transaction, one UPDATE per store.

    Ids are integers from the database and store names match the registry's
    name pattern, so both are safe to render into the statement (which also
    spares the per-parameter cost of huge IN lists)."""
    by_store = collections.defaultdict(list)
    for loc_id, name in updates:
        by_store[name].append(int(loc_id))
    set_store = _SET_STORE[_dialect(db)]
    with db.engine.begin() as conn:
        for name, ids in by_store.items():
            if not _SAFE_NAME.match(name):
                raise exceptions.Invalid('bad store name %r' % (name,))
            ids.sort()
            for i in range(0, len(ids), _IN_CHUNK):
                chunk = ids[i:i + _IN_CHUNK]
                # The BETWEEN lets every planner walk the primary key.
                conn.exec_driver_sql(
                    'UPDATE locations SET meta_data = %s WHERE id BETWEEN %d AND %d '
                    'AND id IN (%s)' % (set_store.replace(':store', "'%s'" % name),
                                        chunk[0], chunk[-1], ','.join(map(str, chunk))))


def run(db, registry, batch_size=10000, dry_run=False, progress=None,
        writers=None):
    """Backfill the whole catalog; returns a :class:`BackfillReport`.

    *progress*, if given, is called as ``progress(n, report)`` after each
    batch of *n* locations.  *writers* is how many transactions may write
    at once while the next pages are read: 1 on SQLite (one writer anyway),
    4 on server engines unless given.
    """
    if batch_size < 1:
        raise exceptions.Invalid('batch size must be >= 1, got %r'
                                 % (batch_size,))
    if writers is None:
        writers = 1 if db.dialect == 'sqlite' else 4
    report = BackfillReport()
    enabled = frozenset(registry.names())
    with _Writer(db, writers) as writer:
        for scanned, missing in iter_missing(db, enabled, batch_size):
            report.scanned += scanned
            report.already += scanned - len(missing)
            updates = resolve_batch(registry, missing, report)
            if updates and not dry_run:
                writer.submit(updates)
            if progress is not None:
                progress(scanned, report)
    return report


class _Writer:
    """Runs :func:`write_batch` inline (one writer) or on a few threads,
    with at most two batches per thread in flight so memory stays flat."""

    def __init__(self, db, writers):
        self.db = db
        self.pool = (concurrent.futures.ThreadPoolExecutor(
            writers, thread_name_prefix='store-kit-backfill')
            if writers > 1 else None)
        self.limit = 2 * writers
        self.pending = collections.deque()

    def submit(self, updates):
        if self.pool is None:
            write_batch(self.db, updates)
            return
        while len(self.pending) >= self.limit:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(write_batch, self.db, updates))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if self.pool is None:
            return
        try:
            while self.pending:             # finish (and check) what started
                future = self.pending.popleft()
                if exc_type is None:
                    future.result()
                else:
                    future.exception()
        finally:
            self.pool.shutdown(wait=True)
