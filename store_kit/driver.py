"""The Store base class, its capabilities, AddResult and the hashing reader.

A driver subclasses :class:`Store`, declares its oslo.config options in
``options``, its URL schemes in ``schemes``, its location class in
``location_class`` and implements the ``_add/_get/_delete/_get_size`` hooks
it supports.  The base class does the rest: argument checks, routing errors,
hashing and size checking of incoming data.
"""

import collections.abc
import dataclasses
import enum
import hashlib
import io
import logging
import queue
import threading
import typing

from oslo_config import cfg

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit import resolver

LOG = logging.getLogger(__name__)

#: Options every store has, whatever its driver.
COMMON_OPTIONS = [
    cfg.IntOpt('weight', default=0,
               help='Preference when an image has copies in several stores: '
                    'after the default store, higher weight is read first.'),
    cfg.StrOpt('description', default='',
               help='Free text shown by `store-kit stores`.'),
]

DEFAULT_BLOCK_SIZE = 1 << 20


class _SecretFilter(logging.Filter):
    """Cleans log records of third-party libraries (botocore, urllib3...):
    registered secrets become ``***`` and URLs lose their credentials and
    query strings.  Runs only for records that pass the level check."""

    def __init__(self):
        super().__init__('store_kit.secrets')
        self.secrets = ()
        self._lock = threading.Lock()

    def add(self, *secrets):
        """Register values that must never be logged (short ones ignored)."""
        with self._lock:
            known = set(self.secrets)
            known.update(s for s in secrets if s and len(s) >= 4)
            # Longest first: a secret that holds another is hidden whole.
            self.secrets = tuple(sorted(known, key=len, reverse=True))

    def scrub(self, text):
        """*text* without any registered secret or URL credential/query."""
        text = str(text)
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, '***')
        return loc_mod.redact_text(text)

    def filter(self, record):
        try:
            msg = record.getMessage()
        except Exception:       # a broken record is not ours to fix
            return True
        clean = self.scrub(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


#: The one filter every driver puts on the third-party loggers it uses.
SECRET_FILTER = _SecretFilter()


def filter_logs(families):
    """Attach :data:`SECRET_FILTER` to every existing logger whose name
    starts with one of *families* (call after importing the library)."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and (
                name.split('.', 1)[0] in families) and (
                SECRET_FILTER not in logger.filters):
            logger.addFilter(SECRET_FILTER)


class Capabilities(enum.Flag):
    """What a store can do."""

    NONE = 0
    READ = enum.auto()
    READ_OFFSET = enum.auto()
    WRITE = enum.auto()
    DELETE = enum.auto()
    ALL = READ | READ_OFFSET | WRITE | DELETE


@dataclasses.dataclass(frozen=True)
class AddResult:
    """What ``Store.add`` returns.

    ``checksum`` is the md5 hex digest, ``multihash`` the hex digest of the
    requested hashing algorithm; ``metadata['store']`` names the store.
    """

    url: str
    size: int
    checksum: str
    multihash: str
    metadata: dict

    def __iter__(self):
        # Allows ``url, size, checksum, multihash, metadata = result``.
        return iter(dataclasses.astuple(self))


class InventoryItem(typing.NamedTuple):
    """One thing a store holds, as the consistency checker sees it.

    ``kind`` is ``'object'`` (image data; ``url`` reads it), ``'tmp'`` (a
    partial file left by a crash) or ``'multipart'`` (an unfinished
    multipart upload); for the last two ``url`` is the image's would-be
    URL.  ``mtime`` is a POSIX timestamp (or None); ``ref`` is what
    ``remove_leftover`` needs to remove exactly this thing.
    """

    kind: str
    url: str
    size: object
    mtime: object
    ref: object = None


def new_hash(algo):
    """hashlib object for *algo*, or :class:`Invalid` naming it."""
    try:
        h = hashlib.new(algo)
    except (ValueError, TypeError):
        raise exceptions.Invalid('unsupported hashing algorithm %r' % (algo,))
    if h.digest_size == 0:  # shake_* need a length: not usable as multihash
        raise exceptions.Invalid('unsupported hashing algorithm %r' % (algo,))
    return h


class _HashWorker(threading.Thread):
    """Feeds blocks to one hash object in its own thread.

    hashlib releases the GIL on large buffers, so two workers hash the same
    block at the same time on two cores while the caller does I/O.
    """

    _STOP = object()

    def __init__(self, hasher, depth):
        super().__init__(daemon=True, name='store-kit-hash-%s' % hasher.name)
        self.hasher = hasher
        self.queue = queue.Queue(maxsize=depth)

    def run(self):
        update = self.hasher.update
        get = self.queue.get
        while True:
            block = get()
            if block is self._STOP:
                return
            update(block)

    def stop(self):
        self.queue.put(self._STOP)
        self.join()


class HashingReader:
    """Iterate input data in blocks while hashing and counting it.

    *data* is a binary file object (anything with ``read``), an iterable of
    bytes, or one bytes-like object.  Iterating yields ``bytes`` blocks of
    exactly *block_size* bytes (the last may be shorter).  When *size* is non-zero the data must be
    exactly that long: longer data raises :class:`SizeMismatch` before the
    excess block is yielded, shorter data raises it at the end.  After a full
    iteration ``size``, ``checksum`` (md5) and ``multihash`` are set.

    md5 and the multihash run in two threads so they overlap each other and
    the caller's I/O; at most *depth* blocks wait in each queue.
    """

    def __init__(self, data, size=0, hashing_algo='sha512',
                 block_size=DEFAULT_BLOCK_SIZE, depth=4):
        if size is None or size < 0:
            raise exceptions.Invalid('image size must be >= 0, got %r'
                                     % (size,))
        if block_size <= 0:
            raise exceptions.Invalid('block size must be > 0, got %r'
                                     % (block_size,))
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = io.BytesIO(data)
        elif not hasattr(data, 'read') and (
                isinstance(data, str)
                or not isinstance(data, collections.abc.Iterable)):
            raise exceptions.Invalid(
                'image data must be bytes, a binary file object or an '
                'iterable of bytes, got %s' % type(data).__name__)
        self._data = data
        self.expected_size = int(size)
        self.hashing_algo = hashing_algo
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._multi = new_hash(hashing_algo)
        self.block_size = block_size
        self._depth = depth
        self.size = 0
        self.checksum = None
        self.multihash = None
        self._workers = []

    def __iter__(self):
        self._workers = [_HashWorker(self._md5, self._depth),
                         _HashWorker(self._multi, self._depth)]
        for w in self._workers:
            w.start()
        completed = False
        try:
            for block in self._blocks():
                self.size += len(block)
                if self.expected_size and self.size > self.expected_size:
                    raise exceptions.SizeMismatch(self.expected_size,
                                                  'more than %d'
                                                  % self.expected_size)
                for w in self._workers:
                    w.queue.put(block)
                yield block
            if self.expected_size and self.size != self.expected_size:
                raise exceptions.SizeMismatch(self.expected_size, self.size)
            completed = True
        finally:
            self._stop_workers()
            if completed:
                self.checksum = self._md5.hexdigest()
                self.multihash = self._multi.hexdigest()

    def _stop_workers(self):
        workers, self._workers = self._workers, []
        for w in workers:
            w.stop()

    def close(self):
        """Stop the hash threads early (safe to call twice)."""
        self._stop_workers()

    def _blocks(self):
        bs = self.block_size
        read = getattr(self._data, 'read', None)
        if read is not None:
            while True:
                block = _binary(read(bs))
                if not block:
                    return
                while len(block) < bs:
                    more = _binary(read(bs - len(block)))
                    if not more:
                        yield bytes(block)
                        return
                    block += more
                yield bytes(block)
        buf = bytearray()
        for chunk in self._data:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise exceptions.Invalid('image data must be bytes, got %s'
                                         % type(chunk).__name__)
            if not buf and len(chunk) == bs:
                yield bytes(chunk)
                continue
            buf += chunk
            while len(buf) >= bs:
                with memoryview(buf) as view:
                    block = bytes(view[:bs])
                del buf[:bs]
                yield block
        if buf:
            yield bytes(buf)


def _binary(block):
    """*block* as read from a file object, refused unless bytes-like."""
    if block is None or isinstance(block, (bytes, bytearray)):
        return block or b''
    if isinstance(block, memoryview):
        return bytes(block)
    raise exceptions.Invalid('image data must be bytes, got %s (a file '
                             'opened in text mode?)' % type(block).__name__)


class ChunkIterator:
    """An iterator of bytes with ``close()`` that releases its resource."""

    def __init__(self, gen, closer=None):
        self._gen = gen
        self._closer = closer

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def close(self):
        try:
            close = getattr(self._gen, 'close', None)
            if close is not None:
                close()
        finally:
            if self._closer is not None:
                closer, self._closer = self._closer, None
                closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _is_utf8(text):
    """True when *text* encodes as UTF-8 (holds no lone surrogate)."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


def check_range(offset, length):
    """Validate a read range; return (offset, length)."""
    if offset is None:
        offset = 0
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise exceptions.Invalid('offset must be an integer >= 0, got %r'
                                 % (offset,))
    if length is not None and (not isinstance(length, int)
                               or isinstance(length, bool) or length < 0):
        raise exceptions.Invalid('length must be an integer >= 0 or None, '
                                 'got %r' % (length,))
    return offset, length


def read_exactly(read, size, chunk_size, what, skip=0):
    """Yield exactly *size* bytes from ``read(n)``, after discarding *skip*.

    A source that ends early raises :class:`SizeMismatch` naming *what*:
    a read is never silently truncated.
    """
    while skip > 0:
        got = read(min(skip, chunk_size))
        if not got:
            break
        skip -= len(got)
    remaining = size
    while remaining > 0:
        data = read(min(chunk_size, remaining))
        if not data:
            raise exceptions.SizeMismatch(size, size - remaining, what=what)
        remaining -= len(data)
        yield data


def range_header(offset, length):
    """The HTTP ``Range`` value for (offset, length); length None = to end."""
    end = '' if length is None else str(offset + length - 1)
    return 'bytes=%d-%s' % (offset, end)


def range_size(total, offset, length):
    """How many bytes a read of (offset, length) yields from *total*."""
    if offset > total:
        raise exceptions.Invalid('offset %d is past the end of the data '
                                 '(%d bytes)' % (offset, total))
    remaining = total - offset
    return remaining if length is None else min(length, remaining)


class Store:
    """Base class of every driver.  One instance per configured store.

    Subclasses set ``driver_name``, ``schemes``, ``options``,
    ``capabilities`` and ``location_class``, compute their URL prefixes in
    ``configure()`` and implement the hooks they support.
    """

    driver_name = None
    schemes = ()
    options = []
    capabilities = Capabilities.NONE
    location_class = loc_mod.StoreLocation

    #: Scheme families this store owns whole (a catch-all), instead of
    #: owning what lies under ``url_prefixes``.
    catch_all_families = ()

    def __init__(self, conf, name):
        self.conf = conf
        self.name = name
        self.url_prefixes = []
        self.configure()
        if not self.url_prefixes:
            raise exceptions.BadStoreConfiguration(
                name, None, 'driver %r computed no URL prefix'
                % self.driver_name)
        self._own = None
        if not self.catch_all_families:
            self._own = resolver.PrefixIndex()
            for prefix in self.url_prefixes:
                self._own.add_prefix(prefix, name)

    # -- helpers for subclasses -------------------------------------------

    @property
    def group(self):
        """This store's option group (``conf[<store name>]``)."""
        return self.conf[self.name]

    def bad_option(self, option, reason):
        """A :class:`BadStoreConfiguration` for one of our options."""
        return exceptions.BadStoreConfiguration(self.name, option, reason)

    @property
    def url_prefix(self):
        """The first (main) URL prefix."""
        return self.url_prefixes[0]

    @property
    def read_only(self):
        return not (self.capabilities & Capabilities.WRITE)

    def owns(self, url):
        """True when *url* lies under this store's prefixes (by the same
        rules as the registry's resolver), or in a catch-all family."""
        if self._own is not None:
            return self._own.lookup(url) == self.name
        try:
            return loc_mod.match_key(url)[0][0] in self.catch_all_families
        except exceptions.BadStoreUri:
            return False

    def parse_location(self, url):
        """Parse *url* into this driver's location class; a URL the store
        does not own is refused, so no store reads or deletes outside its
        own prefixes even when named explicitly.  So is anything but a
        string that encodes as UTF-8 and holds no control character."""
        if not isinstance(url, str):
            raise exceptions.BadStoreUri('location URL must be a string, got '
                                         '%s' % type(url).__name__)
        if loc_mod.has_control(url) or not _is_utf8(url):
            raise exceptions.BadStoreUri(
                'location %s holds a control character or one that is not '
                'valid Unicode' % loc_mod.redact(url))
        if not self.owns(url):
            if self.catch_all_families:
                raise exceptions.BadStoreUri(
                    'location %s is not an %s URL (store %r)'
                    % (loc_mod.redact(url),
                       '/'.join(self.catch_all_families), self.name))
            raise exceptions.BadStoreUri(
                'location %s is not under the URL prefixes of store %r (%s)'
                % (loc_mod.redact(url), self.name,
                   ', '.join(self.url_prefixes)))
        return self.location_class.from_url(url, self.name)

    def aliases(self, url):
        """Every spelling under which this store reaches the data of *url*
        (*url* included): two locations whose URLs share an alias share
        their data.  One spelling unless a driver says otherwise."""
        return [url]

    def __repr__(self):
        return '<%s %s %s>' % (type(self).__name__, self.name,
                               ' '.join(self.url_prefixes))

    # -- public API --------------------------------------------------------

    def configure(self):
        """Read options, set ``url_prefixes``.  Raise BadStoreConfiguration."""
        raise NotImplementedError

    def check_reachable(self):
        """Return ``(True, '')`` or ``(False, reason)``; never raises."""
        return True, ''

    def close(self):
        """Release what the store holds open (sessions, pools)."""

    def add(self, image_id, data, size=0, hashing_algo='sha512'):
        """Store *data* under *image_id*; return an :class:`AddResult`.

        An image id the store could not give back through the URL it
        returns is refused (:meth:`check_image_id`) before a byte is written.
        """
        if not self.capabilities & Capabilities.WRITE:
            raise exceptions.ReadOnlyStore(
                'store %r (%s) is read-only: cannot add image %r'
                % (self.name, self.driver_name, image_id))
        self.check_image_id(image_id)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise exceptions.Invalid('image size must be an integer >= 0, '
                                     'got %r' % (size,))
        reader = HashingReader(data, size, hashing_algo,
                               block_size=self.write_block_size(size))
        try:
            url = self._add(image_id, reader)
        finally:
            reader.close()
        return AddResult(url, reader.size, reader.checksum, reader.multihash,
                         {'store': self.name})

    #: Longest image id, in UTF-8 bytes, the driver can store (None: no
    #: limit of its own).  A driver may set it per store in configure().
    max_image_id_bytes = None

    def check_image_id(self, image_id):
        """Refuse, with :class:`Invalid` naming it, an image id that
        :meth:`add` could not store so that the URL it returns designates
        that same id: a non-empty string encodable as UTF-8, with no
        control character and no '/', not '.' or '..', no longer than
        ``max_image_id_bytes``, and that round-trips through the driver's
        ``_url_for`` and ``_image_id_of``."""
        if not isinstance(image_id, str) or not image_id:
            raise exceptions.Invalid('bad image id %r: must be a non-empty '
                                     'string' % (image_id,))
        if not _is_utf8(image_id):
            raise exceptions.Invalid('bad image id %r: not valid Unicode '
                                     '(lone surrogate)' % (image_id,))
        if loc_mod.has_control(image_id) or '/' in image_id or (
                image_id in ('.', '..')):
            raise exceptions.Invalid('bad image id %r: no control character '
                                     'or "/", and not "." or ".."'
                                     % (image_id,))
        limit = self.max_image_id_bytes
        if limit is not None and len(image_id.encode('utf-8')) > limit:
            raise exceptions.Invalid('bad image id %r: longer than %d UTF-8 '
                                     'bytes, the most store %r can store'
                                     % (image_id, limit, self.name))
        url = self._url_for(image_id)
        try:
            back = self._image_id_of(self.parse_location(url))
        except exceptions.BadStoreUri:
            back = None
        if back != image_id:
            raise exceptions.Invalid(
                'bad image id %r: store %r cannot store it under a location '
                'URL that designates it (%s would read back %r)'
                % (image_id, self.name, loc_mod.redact(url), back))

    def write_block_size(self, size):
        """Block size the hashing reader yields to ``_add`` for an image of
        declared *size* (0: unknown)."""
        return DEFAULT_BLOCK_SIZE

    def get(self, url, offset=0, length=None):
        """Return ``(iterator of bytes, size it will yield)``."""
        offset, length = check_range(offset, length)
        if offset and not self.capabilities & Capabilities.READ_OFFSET:
            raise exceptions.Invalid('store %r cannot read from an offset'
                                     % self.name)
        return self._get(self.parse_location(url), offset, length)

    def delete(self, url):
        """Delete the data at *url*; NotFound when it is not there."""
        if not self.capabilities & Capabilities.DELETE:
            raise exceptions.ReadOnlyStore(
                'store %r (%s) is read-only: cannot delete %s'
                % (self.name, self.driver_name, loc_mod.redact(url)))
        self._delete(self.parse_location(url))

    def get_size(self, url):
        """Size in bytes of the data at *url*."""
        return self._get_size(self.parse_location(url))

    # -- inventory (the consistency checker) --------------------------------

    #: True when one listing (``inventory``) tells sizes far cheaper than
    #: asking per URL (object stores); False when ``sizes`` is cheap.
    sizes_from_listing = False

    def inventory(self):
        """Yield an :class:`InventoryItem` for everything the store holds,
        without reading data.  Stores that cannot list raise
        NotImplementedError."""
        raise NotImplementedError

    def sizes(self, urls):
        """``{url: size}`` for *urls*, without reading data: None when the
        data is missing, a StoreKitError when the store cannot tell."""
        found = {}
        for url in urls:
            try:
                found[url] = self.get_size(url)
            except exceptions.NotFound:
                found[url] = None
            except exceptions.StoreKitError as exc:
                found[url] = exc
        return found

    def remove_leftover(self, item):
        """Remove exactly what *item* (from :meth:`inventory`) names."""
        raise NotImplementedError

    def unfinished(self):
        """The partial writes :meth:`inventory` lists (``tmp`` and
        ``multipart`` items), listed more cheaply where a driver can."""
        return (item for item in self.inventory() if item.kind != 'object')

    def find_objects(self, image_id):
        """``object`` items of the data stored under *image_id*, wherever
        ``add()`` may have put it (a killed copy's leftover)."""
        raise NotImplementedError

    # -- hooks -------------------------------------------------------------

    def _add(self, image_id, reader):
        """Consume *reader* (a HashingReader) fully; return the URL."""
        raise NotImplementedError

    def _url_for(self, image_id):
        """The location URL :meth:`add` returns for *image_id* (writable
        drivers implement it; ``_add`` returns the same)."""
        raise NotImplementedError

    def _image_id_of(self, location):
        """The image id a parsed *location* of this store designates, or
        None: the inverse of ``_url_for``."""
        raise NotImplementedError

    def _get(self, location, offset, length):
        raise NotImplementedError

    def _delete(self, location):
        raise NotImplementedError

    def _get_size(self, location):
        raise NotImplementedError
