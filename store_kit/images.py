"""ImageService: the glue an API server wants between catalog and stores.

Uploads stream into a store and become visible only once the data is safely
written (``queued -> saving -> active`` by compare-and-set); every failure
ends with the image ``killed``, its bytes deleted and no location recorded.
Downloads try the image's locations in preference order and verify a whole
read against the recorded size and hashes.  Deletes first take the locations
out of ``active`` (``pending_delete``), then either leave the data to the
scrubber (``delayed_delete``) or scrub this image's data at once; a store
that fails keeps its location pending for the scrubber, so no active
location ever points at deleted data and no bytes are orphaned.
"""

import hashlib
import io
import logging

from store_kit import config
from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog.rows import utcnow
from store_kit.scrubber import Scrubber

LOG = logging.getLogger(__name__)

#: Image fields ``upload`` sets itself; callers may not pass them.
_MANAGED = ('id', 'status', 'size', 'checksum', 'os_hash_algo',
            'os_hash_value', 'locations', 'deleted', 'deleted_at')
_READ_BLOCK = 1 << 20


class ImageService:
    """Upload, download, delete and restore images; manage their locations.

    *db* is a :class:`~store_kit.catalog.Catalog`, *registry* a
    :class:`~store_kit.StoreRegistry`.  ``user_storage_quota`` is in bytes
    per owner, 0 for unlimited.
    """

    def __init__(self, db, registry, delayed_delete=False,
                 user_storage_quota=0):
        self.db = db
        self.registry = registry
        self.delayed_delete = bool(delayed_delete)
        self.user_storage_quota = int(user_storage_quota or 0)

    @classmethod
    def from_conf(cls, conf, db, registry):
        """An ImageService configured from ``[image_service]`` (a bad value
        is a BadStoreConfiguration naming section and option)."""
        config.check_group(conf, 'image_service')
        opts = conf.image_service
        return cls(db, registry, delayed_delete=opts.delayed_delete,
                   user_storage_quota=opts.user_storage_quota)

    # -- upload ------------------------------------------------------------

    def upload(self, ctx, data, size=0, store=None, **values):
        """Create an image from *data* (file object or iterable of bytes).

        Returns the active image.  On any failure the image ends ``killed``
        with no location and no stored bytes, and the error is re-raised.
        """
        managed = sorted(set(values) & set(_MANAGED))
        if managed:
            raise exceptions.Invalid('upload sets %s itself' % ', '.join(managed))
        _check_data(data, size)
        if store is not None and not isinstance(store, str):
            raise exceptions.Invalid('store must be a store name, not %s'
                                     % _kind(store))
        target = self.registry.default if store is None else self.registry[store]
        image = self.db.image_create(ctx, dict(values, status='queued'))
        image_id = image['id']
        try:
            self.db.image_update(ctx, image_id, {'status': 'saving'},
                                 from_state='queued')
            room = self._quota_room(ctx, image)
            if room is not None and size and size > room:
                raise self._quota_full(image, size)
            stream = data if room is None else _limited(data, room, image)
            result = target.add(image_id, stream, size,
                                self.registry.hashing_algo)
        except BaseException:
            self._kill(ctx, image_id)
            raise
        try:
            room = self._quota_room(ctx, image)
            if room is not None and result.size > room:
                raise self._quota_full(image, result.size)
            return self.db.image_update(ctx, image_id, {
                'status': 'active', 'size': result.size,
                'checksum': result.checksum,
                'os_hash_algo': self.registry.hashing_algo,
                'os_hash_value': result.multihash,
                'locations': [{'url': result.url, 'metadata': result.metadata,
                               'status': 'active'}]}, from_state='saving')
        except BaseException:
            self._delete_data(result.url, target.name)
            self._kill(ctx, image_id)
            raise

    def _quota_room(self, ctx, image):
        """Bytes the owner may still store, or None when unlimited."""
        if not self.user_storage_quota:
            return None
        used = self.db.user_get_storage_usage(ctx, image['owner'],
                                              image_id=image['id'])
        return max(0, self.user_storage_quota - used)

    def _quota_full(self, image, size):
        return exceptions.StorageQuotaFull(
            'image %s: %s bytes would exceed the storage quota of %d bytes '
            'of owner %s' % (image['id'], size, self.user_storage_quota,
                             image['owner']))

    def _kill(self, ctx, image_id):
        try:
            self.db.image_update(ctx, image_id, {'status': 'killed'})
        except exceptions.NotFound:
            pass            # deleted under us: nothing left to mark
        except Exception:   # noqa: BLE001 -- the original error matters more
            LOG.exception('image %s: could not mark it killed', image_id)

    def _delete_data(self, url, store):
        """Delete data we wrote or retired; a missing object is fine."""
        try:
            self.registry.delete(url, store=store)
        except exceptions.NotFound:
            pass
        except Exception as exc:  # noqa: BLE001 -- logged, caller goes on
            LOG.error('could not delete %s from store %s: %s',
                      loc_mod.redact(url), store, exc)
            return False
        return True

    # -- download ----------------------------------------------------------

    def download(self, ctx, image_id, offset=0, length=None):
        """Iterator over the image data (``.size`` = bytes it will yield).

        A whole-image read raises :class:`SizeMismatch` or
        :class:`ChecksumMismatch` at the end when the data does not match
        the recorded size, checksum or multihash.
        """
        # the real URLs (credentials, signed queries) to read with; the
        # caller only ever sees the image's own, redacted, view of them
        image, real = self.db.read_locations(ctx, image_id)
        if image['status'] != 'active' and not (
                image['status'] == 'deactivated' and ctx.is_admin):
            raise exceptions.Conflict('image %s is %s: no data to download'
                                      % (image_id, image['status']))
        shown = {loc['id']: loc for loc in image['locations']}
        errors = []
        for loc in self.ordered_locations(real):
            store = self.registry.store_of(loc)
            try:
                chunks, size = self.registry.get(loc['url'], store=store,
                                                 offset=offset, length=length)
            except exceptions.Invalid:
                raise
            except exceptions.StoreKitError as exc:
                errors.append('location %s: %s' % (loc['id'], exc))
                continue
            whole = not offset and length is None
            return _Download(chunks, size, image if whole else None,
                             shown[loc['id']], store)
        raise exceptions.NotFound('image %s has no readable location%s'
                                  % (image_id, ('; ' + '; '.join(errors))
                                     if errors else ''))

    def ordered_locations(self, locations):
        """Locations in read order: the default store's first, then higher
        ``weight`` first, then locations no enabled store owns."""
        default = self.registry.default.name

        def key(item):
            index, loc = item
            store = self.registry.store_of(loc)
            if store is None:
                return (2, 0, index)
            if store == default:
                return (0, 0, index)
            return (1, -self.registry[store].group.weight, index)
        return [loc for _, loc in sorted(enumerate(locations), key=key)]

    # -- delete and restore ------------------------------------------------

    def delete(self, ctx, image_id):
        """Delete an image; refused while dependents exist or if protected.

        Its locations become ``pending_delete``.  With ``delayed_delete`` the
        scrubber deletes the data later; otherwise it is deleted now and the
        locations (then the image) become ``deleted``, except where a store
        fails: that location stays pending for the scrubber to retry.
        """
        image = self.db.image_destroy(ctx, image_id, delayed=True)
        if self.delayed_delete:
            return image
        self._scrub_now(image['id'])
        return self.db.image_get(ctx, image['id'], force_show_deleted=True)

    def _scrub_now(self, image_id):
        """Delete, now, the due pending_delete data of one image.

        The locations are already out of ``active``, so no active location
        ever points at deleted data; a store failure leaves the location
        ``pending_delete`` (error recorded) for the scrubber to retry, so no
        bytes are orphaned either.
        """
        done = Scrubber(self.db, self.registry).run_once(image_id=image_id)
        LOG.debug('image %s: deleted the data of %d locations', image_id,
                  done)

    def restore(self, ctx, image_id):
        """A pending_delete image back to active, its locations too."""
        return self.db.image_restore(ctx, image_id)

    # -- locations ---------------------------------------------------------

    def add_location(self, ctx, image_id, url, metadata=None):
        """Add an existing copy of the data (an http URL, another store's
        URL) to an image, recording the store that owns it.

        A queued image becomes active with the size read from the store;
        for an active image the size must match.  Returns the image.  The
        caller's rights and the sharing rule are checked before the store
        is asked anything about *url*.
        """
        store = self.registry.resolve(url)
        if store is None:
            raise exceptions.BadStoreUri('no enabled store owns location %s'
                                         % loc_mod.redact(url))
        self.db.check_location_add(ctx, image_id, url)
        image, real = self.db.read_locations(ctx, image_id)
        if any(loc['url'] == url for loc in real):
            raise exceptions.Duplicate('image %s already has location %s'
                                       % (image_id, loc_mod.redact(url)))
        size = self.registry.get_size(url, store=store)
        if loc_mod.parse(url).family == 's3':
            # the s3 store signs with its own keys: never keep a legacy
            # URL's credentials in the catalog
            url = loc_mod.strip_credentials(url)
        new = {'url': url, 'metadata': dict(metadata or {}, store=store),
               'status': 'active'}
        if image['status'] == 'queued':
            return self.db.image_update(ctx, image_id, {
                'status': 'active', 'size': size, 'locations': [new]},
                from_state='queued')
        if image['status'] != 'active':
            raise exceptions.Conflict('image %s is %s: cannot add a location'
                                      % (image_id, image['status']))
        if image['size'] is not None and size != image['size']:
            raise exceptions.SizeMismatch(image['size'], size,
                                          'location %s' % loc_mod.redact(url))
        self.db.image_location_add(ctx, image_id, new)
        return self.db.image_get(ctx, image_id)

    def remove_location(self, ctx, image_id, location_id):
        """Remove one location (delayed or immediate, like :meth:`delete`).

        The last location of an active image cannot be removed.
        """
        image = self.db.image_get(ctx, image_id)
        loc = next((x for x in image['locations'] if x['id'] == location_id),
                   None)
        if loc is None:
            raise exceptions.LocationNotFound('image %s has no location %s'
                                              % (image_id, location_id))
        if image['status'] == 'active' and len(image['locations']) == 1:
            raise exceptions.Forbidden('location %s is the last one of active '
                                       'image %s' % (location_id, image_id))
        self.db.image_location_delete(ctx, image_id, location_id,
                                      'pending_delete', delete_time=utcnow())
        if not self.delayed_delete:
            self._scrub_now(image_id)
        return self.db.image_get(ctx, image_id)


def _check_data(data, size):
    """Invalid, before anything is created, unless *data* is bytes, a binary
    file object or an iterable (of bytes: checked as it is read) and *size*
    a byte count."""
    if isinstance(size, bool) or not isinstance(size, int) or \
            not 0 <= size < 2 ** 63:
        raise exceptions.Invalid('image size must be a number of bytes, not %s'
                                 % (_kind(size),))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return
    if isinstance(data, io.TextIOBase):
        raise exceptions.Invalid('image data must be a binary file, not a '
                                 'text file')
    if callable(getattr(data, 'read', None)):
        return
    if isinstance(data, (str, dict)) or not hasattr(data, '__iter__'):
        raise exceptions.Invalid('image data must be bytes, a binary file or '
                                 'an iterable of bytes, not %s' % _kind(data))


def _kind(value):
    if isinstance(value, int) and not isinstance(value, bool) and \
            value.bit_length() <= 64:
        return repr(value)
    return 'a %s' % type(value).__name__


def _limited(data, room, image):
    """Yield *data* in blocks, raising StorageQuotaFull past *room* bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = [data]
    read = getattr(data, 'read', None)
    blocks = iter(lambda: read(_READ_BLOCK), b'') if read else data
    total = 0
    for block in blocks:
        if not isinstance(block, (bytes, bytearray, memoryview)):
            raise exceptions.Invalid('image data must be bytes, got %s'
                                     % type(block).__name__)
        total += len(block)
        if total > room:
            raise exceptions.StorageQuotaFull(
                'image %s: upload exceeds the storage quota of owner %s '
                '(%d bytes left)' % (image['id'], image['owner'], room))
        yield block


class _Download:
    """The chunks of one read; verifies a whole-image read at the end."""

    def __init__(self, chunks, size, image, loc, store):
        self._chunks = chunks
        self.size = size
        self.location = loc     # as the caller may see it (redacted)
        self.store = store
        self._image = image
        self._seen = 0
        self._md5 = self._multi = None
        if image is not None:
            self._md5 = hashlib.md5(usedforsecurity=False) \
                if image.get('checksum') else None
            algo = image.get('os_hash_algo')
            self._multi = hashlib.new(algo) \
                if algo and image.get('os_hash_value') else None
        self._iter = iter(chunks)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            chunk = next(self._iter)
        except StopIteration:
            self.close()
            if self._image is not None:
                self._verify()
            raise
        self._seen += len(chunk)
        if self._md5 is not None:
            self._md5.update(chunk)
        if self._multi is not None:
            self._multi.update(chunk)
        return chunk

    def _verify(self):
        image, where = self._image, 'location %s (store %s)' % (
            self.location['id'], self.store)
        image_id = image['id']
        self._image = None
        if image.get('size') is not None and self._seen != image['size']:
            raise exceptions.SizeMismatch(image['size'], self._seen,
                                          'image %s at %s' % (image_id, where))
        for name, h, want in (('checksum', self._md5, image.get('checksum')),
                              (image.get('os_hash_algo'), self._multi,
                               image.get('os_hash_value'))):
            if h is not None and h.hexdigest() != want:
                raise exceptions.ChecksumMismatch(
                    'image %s: data at %s does not match its recorded %s'
                    % (image_id, where, name))

    def close(self):
        close = getattr(self._chunks, 'close', None)
        if close is not None:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
