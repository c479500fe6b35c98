"""The consistency checker: the catalog against the stores, without reading
image data.

Two passes (see DESIGN, "Consistency checker"):

* catalog -> stores: every active location is looked up in its store by
  size only (one ``lstat`` per file, one bucket listing per S3 store, a HEAD
  per http URL): ``missing_data``, ``size_mismatch``; images ``saving`` for
  longer than the grace period are ``stale_upload``.
* stores -> catalog: everything a store lists that is older than the grace
  period and that no non-deleted location references under any spelling is
  ``orphan_data``; partial files of interrupted adds are ``orphan_tmp``;
  unfinished S3 multipart uploads are ``orphan_multipart``.

``repair=True`` retires missing or mismatched locations (``deleted``; an
image left without an active location goes back to ``queued``), kills stale
uploads and removes orphans, partial files and multipart uploads older than
the grace period.  Orphaned data is re-checked against the catalog just
before it is removed: data some location references is never deleted.
Findings carry redacted URLs only.
"""

import array
import bisect
import collections
import dataclasses
import datetime
import logging
import time
import urllib.parse

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog.rows import utcnow

LOG = logging.getLogger(__name__)

KINDS = ('missing_data', 'size_mismatch', 'orphan_data', 'stale_upload',
         'orphan_tmp', 'orphan_multipart')
DEFAULT_GRACE = 86400
_BATCH = 5000
_LEFTOVER_KIND = {'object': 'orphan_data', 'tmp': 'orphan_tmp',
                  'multipart': 'orphan_multipart'}


@dataclasses.dataclass
class Finding:
    """One inconsistency; ``url`` is redacted.  ``repaired`` tells whether
    ``--repair`` fixed it."""

    kind: str
    store: object
    image_id: object
    url: object
    detail: str
    repaired: bool = False

    def as_dict(self):
        """The JSON form: kind, store, image_id, url, detail."""
        return {'kind': self.kind, 'store': self.store, 'image_id': self.image_id,
                'url': self.url, 'detail': self.detail}


@dataclasses.dataclass
class CheckReport:
    """What a check run found (iterating it yields the findings)."""

    findings: list = dataclasses.field(default_factory=list)
    locations: int = 0           # locations compared with their store
    listed: int = 0              # things the stores listed
    #: ``{scheme: count}`` of locations no enabled store owns
    unresolved: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)

    @property
    def repaired(self):
        return sum(1 for f in self.findings if f.repaired)

    @property
    def clean(self):
        """Nothing found, or everything found was repaired (exit status 0)."""
        return all(f.repaired for f in self.findings)

    def summary_lines(self):
        """Plain-text summary (no secrets: schemes and counts only)."""
        lines = ['%d locations checked, %d stored items listed: %d finding%s, %d repaired'
                 % (self.locations, self.listed, len(self.findings),
                    '' if len(self.findings) == 1 else 's', self.repaired)]
        if self.unresolved:
            lines.append('locations no enabled store owns (not checked): %s' % ', '.join(
                '%d %s' % (n, scheme) for scheme, n in sorted(self.unresolved.items())))
        return lines

    def as_dict(self):
        """``{"findings": [...], "repaired": N}`` (+ ``unresolved`` counts)."""
        return {'findings': [f.as_dict() for f in self.findings],
                'repaired': self.repaired, 'unresolved': dict(self.unresolved)}

    def __iter__(self):
        return iter(self.findings)

    def __len__(self):
        return len(self.findings)


def run(db, registry, repair=False, grace=DEFAULT_GRACE, stores=None, progress=None):
    """Check (and with *repair*, fix) the catalog *db* against *registry*.

    *stores* limits the check to those store names (locations elsewhere
    and other stores' listings are skipped); *grace* (seconds) protects
    uploads and copies in progress.  *progress*, if given, is called as
    ``progress(n, report)`` after each batch of *n* locations compared, and
    with ``n = 0`` after each batch of stored items listed.  Returns a
    :class:`CheckReport`.
    """
    if grace is None or grace < 0:
        raise exceptions.Invalid('grace must be a number of seconds >= 0, got %r' % (grace,))
    names = registry.names() if stores is None else list(stores)
    for name in names:
        registry[name]                        # UnknownStore for a typo
    checker = _Checker(db, registry, set(names), repair, grace, progress)
    checker.stale_uploads()
    checker.locations()
    for name in names:
        checker.leftovers(registry[name])
    return checker.report


class StoreSizes:
    """Sizes of location URLs in their stores without reading data: one
    ``lstat`` per file, one listing per object store for a whole run, a
    HEAD per http URL.  Call as ``sizes(store, urls)`` ->
    ``{url: size, None (missing) or StoreKitError (the store cannot tell)}``."""

    def __init__(self):
        self._listings = {}

    def __call__(self, store, urls):
        if not store.sizes_from_listing:
            return store.sizes(urls)
        if store.name not in self._listings:
            self._listings[store.name] = {
                loc_mod.url_key(item.url): item.size
                for item in store.inventory() if item.kind == 'object'}
        listing = self._listings[store.name]
        return {url: listing.get(loc_mod.url_key(url)) for url in urls}


def compare_sizes(store, locs, sizes):
    """Yield ``(loc, kind, detail, repairable)`` for each location of
    *store* whose data is missing or of another size than its image; *locs*
    are tuples ``(location id, image id, url, image size, ...)``.  A store
    that could not answer gives a ``missing_data`` that is not
    repairable."""
    found = sizes(store, [loc[2] for loc in locs])
    for loc in locs:
        loc_id, url, want = loc[0], loc[2], loc[3]
        got = found.get(url)
        if got is None:
            yield (loc, 'missing_data',
                   'location %s: no data in store %s' % (loc_id, store.name), True)
        elif isinstance(got, exceptions.StoreKitError):
            yield (loc, 'missing_data', 'location %s: %s' % (
                loc_id, loc_mod.redact_text(got)), False)
        elif want is not None and got != want:
            yield (loc, 'size_mismatch', 'location %s: %d bytes in store %s, image size %d'
                   % (loc_id, got, store.name, want), True)


class _Checker:
    def __init__(self, db, registry, names, repair, grace, progress):
        self.db, self.registry, self.names = db, registry, names
        self.repair, self.grace = repair, grace
        self.progress = progress or (lambda n, report: None)
        self.cutoff = utcnow() - datetime.timedelta(seconds=grace)
        self.cutoff_ts = time.time() - grace
        self.report = CheckReport()
        self.sizes = StoreSizes()
        #: 64-bit prefixes of the url_keys of every non-deleted location
        #: (8 bytes each), sorted before the orphan pass
        self._seen = array.array('Q')
        self._sorted = False
        self._retired = set()

    def add(self, kind, store, image_id, url, detail, fix=None):
        finding = Finding(kind, store, image_id, None if url is None else loc_mod.redact(url),
                          detail)
        if self.repair and fix is not None:
            try:
                finding.repaired = bool(fix())
            except exceptions.StoreKitError as exc:
                finding.detail += '; repair failed: %s' % loc_mod.redact_text(exc)
        self.report.findings.append(finding)

    # -- catalog -> stores ---------------------------------------------------

    def stale_uploads(self):
        for image in self.db.stale_uploads(self.cutoff):
            self.add('stale_upload', None, image['id'], None,
                     'saving since %s' % image['updated_at'].isoformat(sep=' ', timespec='seconds'),
                     lambda image_id=image['id']: self.db.kill_stale_upload(image_id, self.cutoff))

    def locations(self):
        """Compare active locations with their stores; remember (compactly)
        every key any non-deleted location references, for the orphan pass."""
        enabled = set(self.registry.names())
        for page in self.db.scan_locations_for_check(_BATCH):
            by_store = collections.defaultdict(list)
            for loc_id, image_id, url, status, store, size, key in page:
                self._seen.append(_short(key))
                name = store if store in enabled else self.registry.resolve(url)
                if name is None:
                    self.report.unresolved[_scheme(url)] += 1
                elif name in self.names and status == 'active':
                    by_store[name].append((loc_id, image_id, url, size, key))
            for name, locs in by_store.items():
                self._compare(self.registry[name], locs)
                self.report.locations += len(locs)
            self.progress(len(page), self.report)

    def _compare(self, store, locs):
        for (loc_id, image_id, url, _, key), kind, detail, fixable in compare_sizes(
                store, locs, self.sizes):
            retire = (lambda loc_id=loc_id, key=key: self._retire(loc_id, key))
            self.add(kind, store.name, image_id, url, detail, retire if fixable else None)

    def _retire(self, location_id, key):
        done = self.db.retire_broken_location(location_id)
        if done:
            self._retired.add(key)      # its data may now be an orphan
        return done

    # -- stores -> catalog ---------------------------------------------------

    def leftovers(self, store):
        if self._seen and not self._sorted:
            self._seen = array.array('Q', sorted(self._seen))
            self._sorted = True
        try:
            items = store.inventory()
            batch = []
            for item in items:
                self.report.listed += 1
                if item.mtime is not None and item.mtime > self.cutoff_ts:
                    continue                    # may be an upload in progress
                if item.kind != 'object':
                    self._leftover(store, item)
                    continue
                batch.append(item)
                if len(batch) >= 1000:
                    self._orphans(store, batch)
                    batch = []
            self._orphans(store, batch)
        except NotImplementedError:
            return                              # a store that cannot list

    def _leftover(self, store, item):
        what = ('partial file of an interrupted add' if item.kind == 'tmp'
                else 'unfinished multipart upload')
        self.add(_LEFTOVER_KIND[item.kind], store.name, _image_id_of(item), item.url,
                 '%s, last changed %s' % (what, _when(item)),
                 lambda: self._remove(store, item))

    def _orphans(self, store, items):
        """Report what no location references.  The scan's key prefixes
        clear almost everything at once (a prefix collision can only hide an
        orphan, never report referenced data); the rest is confirmed against
        the catalog, which also sees locations added since the scan."""
        if not items:
            return
        keys = {id(item): [loc_mod.url_key(u) for u in store.aliases(item.url)]
                for item in items}
        unseen = [item for item in items
                  if not any(self._seen_key(k) and k not in self._retired
                             for k in keys[id(item)])]
        referenced = self.db.referenced_keys(k for item in unseen for k in keys[id(item)])
        for item in unseen:
            if not referenced.intersection(keys[id(item)]):
                self.add('orphan_data', store.name, _image_id_of(item), item.url,
                         '%s bytes no location references, last changed %s'
                         % (item.size, _when(item)),
                         lambda item=item, keys=keys[id(item)]: self._remove_orphan(
                             store, item, keys))
        self.progress(0, self.report)

    def _seen_key(self, key):
        short = _short(key)
        i = bisect.bisect_left(self._seen, short)
        return i < len(self._seen) and self._seen[i] == short

    def _remove_orphan(self, store, item, keys):
        if self.db.location_references(keys):
            LOG.info('check: %s is referenced again: kept', loc_mod.redact(item.url))
            return False
        return self._remove(store, item)

    @staticmethod
    def _remove(store, item):
        store.remove_leftover(item)
        return True


def _short(key):
    return int(key[:16], 16)


def _image_id_of(item):
    return urllib.parse.unquote(item.url.rstrip('/').rsplit('/', 1)[-1]) or None


def _when(item):
    if item.mtime is None:
        return 'at an unknown time'
    when = datetime.datetime.fromtimestamp(item.mtime, datetime.timezone.utc)
    return when.strftime('%Y-%m-%d %H:%M:%S UTC')


def _scheme(url):
    scheme = str(url).split('://', 1)[0].lower() if '://' in str(url) else '?'
    return scheme if scheme.replace('+', '').isalnum() else '?'
