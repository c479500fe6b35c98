"""Bulk backfill: write ``metadata['store']`` for every legacy location.

Walks the catalog's live locations in id order (the catalog's keyset
pages: memory stays flat however big the catalog), resolves those whose
``metadata['store']`` names no enabled store and writes the names through
the catalog's bulk method, one transaction per batch.  Interrupting it
loses at most the batch in flight; a rerun finds only what is still
missing (idempotent).
"""

import collections
import concurrent.futures
import dataclasses

from store_kit import exceptions
from store_kit import location as loc_mod


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
    with BatchWriter(db, writers) as writer:
        for page in db.scan_locations(batch_size):
            scanned = len(page)
            missing = [(loc_id, url) for loc_id, url, store in page
                       if store not in enabled]
            report.scanned += scanned
            report.already += scanned - len(missing)
            updates = resolve_batch(registry, missing, report)
            if updates and not dry_run:
                writer.submit(updates)
            if progress is not None:
                progress(scanned, report)
    return report


class BatchWriter:
    """Runs ``db.set_location_stores`` inline (one writer) or on a few threads,
    with at most two batches per thread in flight so memory stays flat.
    With *overlap* even one writer gets a thread of its own, so the next
    page is read and resolved while a batch is written (``store-kit glance
    backfill``)."""

    def __init__(self, db, writers, overlap=False):
        self.db = db
        self.pool = (concurrent.futures.ThreadPoolExecutor(
            writers, thread_name_prefix='store-kit-backfill')
            if writers > 1 or overlap else None)
        self.limit = 2 * writers
        self.pending = collections.deque()

    def submit(self, updates):
        if self.pool is None:
            self.db.set_location_stores(updates)
            return
        while len(self.pending) >= self.limit:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self.db.set_location_stores, updates))

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
