"""Copying images between stores: ``store-kit copy`` and ``store-kit evacuate``.

Each copy streams the data from a readable location into the target store
through the target's normal ``add()`` (memory stays flat; S3 targets use
multipart for large images), checks size, md5 and the image's multihash
against the catalog, and only then records the new location, in one
transaction (:meth:`~store_kit.catalog.Catalog.commit_copy`) that refuses an
image deleted meanwhile or already copied by someone else.  A mismatch
removes the new copy and reports the image; the run goes on.

Copies are leased per (image, target) in the catalog, so any number of
workers on any number of nodes share an evacuation without copying one
image twice at a time.  A rerun resumes: images that already have an active
location in the target are skipped, and what a killed copy left in the
target for an image (its object, a partial file, an unfinished multipart
upload) is removed first, once no location references it.  Data is only ever
deleted under that rule.  With ``delete_source`` the source location goes
``pending_delete`` in the same transaction that records the target one, and
the scrubber deletes its data later.
"""

import collections
import concurrent.futures
import dataclasses
import logging
import threading

from store_kit import exceptions, leases
from store_kit import location as loc_mod
from store_kit.context import RequestContext

LOG = logging.getLogger(__name__)
ADMIN = RequestContext(project_id=None, is_admin=True)
LEASE_SECONDS = 300


@dataclasses.dataclass
class CopyReport:
    """What a copy or evacuation did.  ``skipped``: images of the job that
    already had an active location in the target (or were deleted, or are
    being copied by another worker); ``bytes``: bytes copied by this run."""

    copied: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    #: ``[(image_id, reason)]``
    failures: list = dataclasses.field(default_factory=list)
    #: dry run: images (and their bytes) that would be copied
    planned: int = 0
    planned_bytes: int = 0
    dry_run: bool = False

    def as_dict(self):
        out = {'copied': self.copied, 'skipped': self.skipped, 'failed': self.failed,
               'bytes': self.bytes,
               'failures': [{'image_id': i, 'reason': r} for i, r in self.failures]}
        if self.dry_run:
            out.update(dry_run=True, planned=self.planned, planned_bytes=self.planned_bytes)
        return out

    def summary_lines(self):
        if self.dry_run:
            return ['dry run: would copy %d images (%d bytes), %d skipped'
                    % (self.planned, self.planned_bytes, self.skipped)]
        lines = ['%d copied (%d bytes), %d skipped, %d failed'
                 % (self.copied, self.bytes, self.skipped, self.failed)]
        lines += ['  failed: %s: %s' % f for f in self.failures]
        return lines


class _Outcome(Exception):
    """Ends one image's copy early: ``skipped`` or ``failed`` with a reason."""

    def __init__(self, kind, reason=''):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


class Copier:
    """Copies images into store *target* (a name of *registry*)."""

    def __init__(self, db, registry, target, owner=None, lease_seconds=LEASE_SECONDS,
                 progress=None):
        self.db, self.registry = db, registry
        self.target = registry[target]
        if self.target.read_only:
            raise exceptions.ReadOnlyStore('store %r is read-only: cannot copy into it'
                                           % target)
        self.owner = owner or leases.new_owner('copy')
        self.lease_seconds = lease_seconds
        self.progress = progress or (lambda images, nbytes: None)
        self.report = CopyReport()
        self._lock = threading.Lock()
        self._partials = None

    # -- one image ------------------------------------------------------------

    def copy_one(self, image_id, source=None, retire_source=False, dry_run=False):
        """Copy one image (from store *source* when given, else from its
        best readable location); the outcome is added to ``report``."""
        try:
            try:
                nbytes = self._copy(image_id, source, retire_source, dry_run)
            except exceptions.StoreKitError as exc:
                raise _Outcome('failed', loc_mod.redact_text(exc))
        except _Outcome as out:
            with self._lock:
                if out.kind == 'skipped':
                    self.report.skipped += 1
                else:
                    self.report.failed += 1
                    self.report.failures.append((image_id, out.reason))
                    LOG.warning('copy of image %s into %s failed: %s', image_id,
                                self.target.name, out.reason)
            self.progress(1, 0)
            return
        with self._lock:
            if dry_run:
                self.report.planned += 1
                self.report.planned_bytes += nbytes
            else:
                self.report.copied += 1
                self.report.bytes += nbytes
        self.progress(1, 0 if dry_run else nbytes)

    def _copy(self, image_id, source, retire_source, dry_run):
        try:
            image = self.db.image_get(ADMIN, image_id)
        except exceptions.ImageNotFound:
            raise _Outcome('failed' if source is None else 'skipped', 'image not found')
        # (checked again under the lease below; this first look spares leases)
        if image['status'] != 'active':
            raise _Outcome('failed' if source is None else 'skipped',
                           'image is %s' % image['status'])
        locs = image['locations']
        if any(self.registry.store_of(loc) == self.target.name for loc in locs):
            raise _Outcome('skipped')
        src = self._source(image, source)
        if dry_run:
            return image['size'] or 0
        if not self.db.acquire_copy_lease(image_id, self.target.name, self.owner,
                                          self.lease_seconds):
            raise _Outcome('skipped')             # another worker is on it
        try:
            # under the lease, look again: a worker may have just finished it
            image = self.db.image_get(ADMIN, image_id)
            if image['status'] != 'active' or any(
                    self.registry.store_of(loc) == self.target.name
                    for loc in image['locations']):
                raise _Outcome('skipped')
            src = self._source(image, source)
            with leases.Heartbeat(
                    lambda: self.db.renew_copy_lease(image_id, self.target.name,
                                                     self.owner, self.lease_seconds),
                    self.lease_seconds, 'the copy of image %s' % image_id):
                self._clear_leftovers(image_id)
                result = self._stream(image, src)
                try:
                    self.db.commit_copy(image_id, self.target.name, result.url,
                                        result.metadata, self.owner,
                                        src['id'] if retire_source else None)
                except BaseException as exc:
                    self._discard(result.url)
                    if isinstance(exc, exceptions.Conflict):
                        raise self._changed_under_us(image_id, exc)
                    raise
        finally:
            self.db.release_copy_lease(image_id, self.target.name, self.owner)
        return result.size

    def _changed_under_us(self, image_id, conflict):
        """Skipped when the image was deleted or copied meanwhile (nothing
        to do), failed otherwise."""
        try:
            image = self.db.image_get(ADMIN, image_id)
        except exceptions.ImageNotFound:
            return _Outcome('skipped')
        done = any(self.registry.store_of(loc) == self.target.name
                   for loc in image['locations'])
        if done or image['status'] != 'active':
            return _Outcome('skipped')
        return _Outcome('failed', str(conflict))

    def _source(self, image, source):
        if source is not None:
            found = [loc for loc in image['locations']
                     if self.registry.store_of(loc) == source]
        else:
            from store_kit.images import ImageService
            found = [loc for loc in ImageService(self.db, self.registry).ordered_locations(
                image['locations']) if self.registry.store_of(loc) is not None]
        if not found:
            raise _Outcome('failed' if source is None else 'skipped',
                           'no readable location%s' % (' in store %s' % source
                                                       if source else ''))
        return found[0]

    def _stream(self, image, src):
        """Read *src* into the target; return the AddResult once the copy
        matches the catalog's size and hashes (else remove it and fail)."""
        store = self.registry.store_of(src)
        try:
            chunks, _ = self.registry.get(src['url'], store=store)
        except exceptions.StoreKitError as exc:
            raise _Outcome('failed', 'cannot read location %s: %s' % (
                src['id'], loc_mod.redact_text(exc)))
        algo = image.get('os_hash_algo') or self.registry.hashing_algo
        try:
            result = self.target.add(image['id'], chunks, image['size'] or 0, algo)
        except exceptions.StoreKitError as exc:
            raise _Outcome('failed', 'from location %s: %s' % (
                src['id'], loc_mod.redact_text(exc)))
        finally:
            close = getattr(chunks, 'close', None)
            if close is not None:
                close()
        wanted = (('size', result.size, image.get('size')),
                  ('md5 checksum', result.checksum, image.get('checksum')),
                  (algo, result.multihash, image.get('os_hash_value')
                   if image.get('os_hash_algo') else None))
        for what, got, want in wanted:
            if want is not None and got != want:
                self._discard(result.url)
                raise _Outcome('failed', 'the data at location %s does not match the '
                                         'recorded %s' % (src['id'], what))
        return result

    # -- leftovers of killed copies --------------------------------------------

    def scan_partials(self):
        """List the target's partial writes once (per run), by image id."""
        partials = collections.defaultdict(list)
        try:
            for item in self.target.unfinished():
                partials[_image_id(item.url)].append(item)
        except (NotImplementedError, exceptions.NotFound):
            pass                # cannot list, or nothing there yet (no bucket)
        self._partials = partials

    def _clear_leftovers(self, image_id):
        """Remove what a killed copy of *image_id* left in the target, once
        no location references it; refuse to copy over referenced data."""
        if self._partials is None:
            self.scan_partials()
        items = list(self._partials.pop(image_id, []))
        try:
            items += self.target.find_objects(image_id)
        except NotImplementedError:
            pass
        for item in items:
            if item.kind == 'object':
                refs = self.db.location_references(self._keys(item.url))
                if refs:
                    raise _Outcome('failed', 'store %s already holds data for this image '
                                   'that image%s %s reference%s' % (
                                       self.target.name, 's' if len(refs) > 1 else '',
                                       ', '.join(sorted({r['image_id'] for r in refs})),
                                       '' if len(refs) > 1 else 's'))
            LOG.info('copy: removing %s left in store %s by an earlier copy of image %s',
                     item.kind, self.target.name, image_id)
            self.target.remove_leftover(item)

    def _keys(self, url):
        return [loc_mod.url_key(u) for u in self.target.aliases(url)]

    def _discard(self, url):
        """Delete a copy we wrote, unless some location references it."""
        if self.db.location_references(self._keys(url)):
            return
        try:
            self.target.delete(url)
        except exceptions.NotFound:
            pass
        except exceptions.StoreKitError as exc:
            LOG.error('copy: could not remove %s from store %s: %s (check --repair will)',
                      loc_mod.redact(url), self.target.name, exc)


def _image_id(url):
    return url.rstrip('/').rsplit('/', 1)[-1]


def _run(copier, jobs, workers):
    """Run ``copier.copy_one(*job)`` for every job, *workers* at a time, with
    a bounded number in flight (the job stream may be long)."""
    if workers <= 1:
        for job in jobs:
            copier.copy_one(*job)
        return
    with concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix='store-kit-copy') as pool:
        pending = collections.deque()
        for job in jobs:
            if len(pending) >= 2 * workers:
                pending.popleft().result()
            pending.append(pool.submit(copier.copy_one, *job))
        while pending:
            pending.popleft().result()


def _check_workers(workers):
    if not isinstance(workers, int) or workers < 1:
        raise exceptions.Invalid('workers must be an integer >= 1, got %r' % (workers,))


def copy_images(db, registry, image_ids, target, workers=1, dry_run=False, progress=None,
                owner=None):
    """Copy each of *image_ids* into store *target*; returns a
    :class:`CopyReport`.  *progress(images, bytes)* is called as each
    image ends."""
    _check_workers(workers)
    copier = Copier(db, registry, target, owner=owner, progress=progress)
    copier.report.dry_run = dry_run
    _run(copier, ((image_id, None, False, dry_run) for image_id in image_ids), workers)
    return copier.report


def evacuate(db, registry, source, target, delete_source=False, workers=1, dry_run=False,
             progress=None, owner=None, batch_size=5000):
    """Copy every image with an active location in store *source* and none in
    *target* into *target*; with *delete_source*, retire each source location
    once its copy is recorded.  Returns a :class:`CopyReport`."""
    _check_workers(workers)
    registry[source]
    if source == target:
        raise exceptions.Invalid('evacuate needs two different stores, got %r twice'
                                 % (source,))
    copier = Copier(db, registry, target, owner=owner, progress=progress)
    copier.report.dry_run = dry_run
    if not dry_run:
        copier.scan_partials()
    _run(copier, ((image_id, source, delete_source, dry_run)
                  for image_id in _images_in(db, registry, source, batch_size)), workers)
    return copier.report


def _images_in(db, registry, source, batch_size):
    """Ids of images with an active location in store *source*, each once."""
    enabled = set(registry.names())
    seen = set()
    for page in db.scan_locations_for_check(batch_size):
        for _, image_id, url, status, store, _, _ in page:
            if status != 'active' or image_id in seen:
                continue
            name = store if store in enabled else registry.resolve(url)
            if name == source:
                seen.add(image_id)
                yield image_id
