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
    listings = {}
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
            _compare(report, registry[name], rows, listings)
            report.locations += len(rows)
        if progress is not None:
            progress(len(page), report)
    return report


def _sizes(store, urls, listings):
    """``{url: size, None or StoreKitError}`` without reading data."""
    if not store.sizes_from_listing:
        return store.sizes(urls)
    if store.name not in listings:
        listing = {}
        for item in store.inventory():
            if item.kind == 'object':
                listing[loc_mod.url_key(item.url)] = item.size
        listings[store.name] = listing
    listing = listings[store.name]
    return {url: listing.get(loc_mod.url_key(url)) for url in urls}


def _compare(report, store, rows, listings):
    found = _sizes(store, [row.url for row in rows], listings)
    for row in rows:
        got, want = found.get(row.url), row.image_size
        detail = None
        kind = 'missing_data'
        if got is None:
            detail = 'location %s: no data in store %s' % (row.id, store.name)
        elif isinstance(got, exceptions.StoreKitError):
            detail = 'location %s: %s' % (row.id, loc_mod.redact_text(got))
        elif want is not None and got != want:
            kind = 'size_mismatch'
            detail = ('location %s: %d bytes in store %s, image size %d'
                      % (row.id, got, store.name, want))
        if detail is not None:
            report.findings.append(sk_check.Finding(
                kind, store.name, row.image_id, loc_mod.redact(row.url), detail))
