"""``store-kit glance check``: glance's active locations against the stores
of the same glance-api.conf, without reading image data.

Each active row is looked up in the store it names (or, when it names no
enabled store, in the store that owns its URL) by size only, the way
``store-kit check`` does it (one ``lstat`` per file, one listing per
bucket): ``missing_data`` when the data is gone, ``size_mismatch`` when it
differs from the image's recorded size.  Findings and the report are
:mod:`store_kit.check`'s, so both commands print the same thing.  Nothing
is written to glance's database; rows no enabled store owns (rbd, swift
...) are counted per scheme as unresolved.
"""

import collections

from store_kit import backfill as sk_backfill
from store_kit import check as sk_check
from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.glance.backfill import parse_meta

_BATCH = 5000


def run(gdb, registry, stores=None, progress=None, batch_size=_BATCH):
    """Check glance database *gdb* against *registry* (only *stores* when
    given); returns a :class:`store_kit.check.CheckReport`.  *progress*, if
    given, is called as ``progress(n, report)`` after each batch of *n*
    rows."""
    gdb.check_schema()
    names = registry.names() if stores is None else list(stores)
    for name in names:
        registry[name]                        # UnknownStore for a typo
    names = set(names)
    report = sk_check.CheckReport()
    sizes = sk_check.StoreSizes()
    for page in gdb.scan_active(batch_size):
        by_store = collections.defaultdict(list)
        for row in page:
            name = (parse_meta(row.meta) or {}).get('store')
            if not isinstance(name, str) or name not in registry:
                try:
                    name = registry.resolve(row.url)
                except exceptions.StoreKitError:
                    name = None
            if name is None:
                report.unresolved[sk_backfill.origin(row.url)[0]] += 1
            elif name in names:
                by_store[name].append(row)
        for name, rows in by_store.items():
            _compare(report, registry[name], rows, sizes)
            report.locations += len(rows)
        if progress is not None:
            progress(len(page), report)
    return report


def _compare(report, store, rows, sizes):
    locs = [(row.id, row.image_id, row.url, row.image_size) for row in rows]
    for (_, image_id, url, _), kind, detail, _ in sk_check.compare_sizes(store, locs, sizes):
        report.findings.append(sk_check.Finding(
            kind, store.name, image_id, loc_mod.redact(url), detail))
