"""store_kit's drivers as glance_store drivers.

Published under the ``glance_store.drivers`` entry points
``store_kit_file``, ``store_kit_s3`` and ``store_kit_http``, so a glance
deployment switches a store by changing its type in ``enabled_backends``
(``fast:file`` -> ``fast:store_kit_file``) and keeps its section as it is:
the options are read from the store's own section, under glance_store's
names.

Each class is a glance_store ``Store`` that owns one store_kit store and
delegates every call to it: store_kit writes the bytes, its URLs carry no
credentials, a URL outside the store's prefixes is refused, and errors come
back as glance_store exceptions (:mod:`store_kit.glance.errors`).

``url_prefix`` is a tuple of strings, each ending at a path boundary, one
per spelling glance may have written (``file://`` and ``filesystem://``;
``s3://``, ``s3+http://``, ``s3+https://``): glance's own backfill on GET
matches with ``uri.startswith(url_prefix)``, which takes a tuple, so store
``pool1`` never claims ``pool10``'s files nor bucket ``glance`` bucket
``glance-b``'s objects.

Only multi-store configurations (``enabled_backends``) are supported.
"""

from glance_store import capabilities as gs_caps
from glance_store import driver as gs_driver
from glance_store import exceptions as gs_exc
from glance_store import location as gs_location

from store_kit import compat as sk_compat
from store_kit import config as sk_config
from store_kit import driver as sk_driver
from store_kit import exceptions as sk_exc
from store_kit import location as sk_location
from store_kit import registry as sk_registry
from store_kit.glance import errors


def glance_capabilities(store_caps):
    """glance_store capability bits for store_kit *store_caps*."""
    caps = gs_caps.BitMasks.DRIVER_REUSABLE
    if store_caps & sk_driver.Capabilities.READ:
        caps |= gs_caps.BitMasks.READ_ACCESS | gs_caps.BitMasks.READ_CHUNK
    if store_caps & sk_driver.Capabilities.READ_OFFSET:
        caps |= gs_caps.BitMasks.READ_OFFSET
    if store_caps & sk_driver.Capabilities.WRITE:
        caps |= gs_caps.BitMasks.WRITE_ACCESS
    return caps


def glance_prefixes(store):
    """``url_prefix`` for glance: every store_kit prefix of *store*, under
    each of its schemes, ending with ``/``."""
    found = []
    for prefix in store.url_prefixes:
        scheme, sep, rest = prefix.partition('://')
        if not sep:
            continue
        rest = rest if (not rest or rest.endswith('/')) else rest + '/'
        family = sk_location.FAMILIES.get(scheme.lower())
        schemes = [s for s in store.schemes
                   if sk_location.FAMILIES.get(s) == family] or [scheme]
        for s in schemes:
            spelled = '%s://%s' % (s, rest)
            if spelled not in found:
                found.append(spelled)
    return tuple(found)


class StoreLocation(gs_location.StoreLocation):
    """A location of a store_kit store, as glance_store hands it around.

    ``url`` is the URL as recorded (a legacy one may hold credentials: the
    store reads it with its own); ``get_uri()`` gives it without them.
    """

    #: URL schemes this location class accepts (set per driver).
    schemes = ()

    def process_specs(self):
        self.url = self.specs.get('url')

    def parse_uri(self, uri):
        scheme = uri.partition('://')[0].lower() if isinstance(uri, str) else ''
        if scheme not in self.schemes:
            raise gs_exc.BadStoreUri(
                message='%s is not a %s URL' % (sk_location.redact(uri),
                                                '/'.join(self.schemes)))
        try:
            self.parsed = sk_location.parse(uri)
        except sk_exc.StoreKitError as exc:
            raise errors.to_glance(exc) from None
        self.scheme = scheme
        self.url = uri

    def get_uri(self):
        return sk_location.strip_credentials(self.url)

    @property
    def path(self):
        """The normalised path of the URL (a file's path for files)."""
        return self.parsed.path


class _Chunks:
    """The iterator ``get()`` returns: store_kit's, with errors raised
    while streaming translated too, and ``close()`` passed on."""

    def __init__(self, chunks):
        self._chunks = chunks

    def __iter__(self):
        with errors.translate('get'):
            yield from self._chunks

    def close(self):
        self._chunks.close()


class _Verifying:
    """A file object feeding what is read to glance's signature verifier."""

    def __init__(self, data, verifier):
        self._data = data
        self._verifier = verifier

    def read(self, size=-1):
        block = self._data.read(size)
        if block:
            self._verifier.update(block)
        return block


class Store(gs_driver.Store):
    """Base of the adapters: one store_kit store behind glance_store's API.

    Subclasses name the store_kit driver (``STORE_KIT_DRIVER``) and the
    entry point they are published under (``TYPE``).
    """

    TYPE = None
    STORE_KIT_DRIVER = None
    #: No glance_store option list: glance would otherwise register it into
    #: the sections of stock stores too (it matches driver names by
    #: substring: "file" in "store_kit_file").  We register store_kit's
    #: options ourselves, in our own section only.
    OPTIONS = None
    MULTI_BACKEND_OPTIONS = None

    def __init__(self, conf, backend=None):
        super().__init__(conf, backend)
        if not backend:
            raise gs_exc.BadStoreConfiguration(
                store_name=self.TYPE,
                reason='store_kit drivers need a multi-store configuration '
                       '([DEFAULT] enabled_backends = name:%s)' % self.TYPE)
        self.driver_cls = sk_registry.load_driver(self.STORE_KIT_DRIVER,
                                                  backend)
        self._capabilities = glance_capabilities(self.driver_cls.capabilities)
        self.store_location_class = type(
            '%sLocation' % type(self).__name__, (StoreLocation,),
            {'schemes': tuple(self.driver_cls.schemes)})
        sk_config.register_store_opts(conf, backend, self.driver_cls)
        # glance reads store_description (GET /v2/info/stores)
        conf.register_opt(sk_compat.STORE_DESCRIPTION, group=backend)
        self.store = None

    def get_schemes(self):
        # glance_store finds a store by its type among its schemes.
        return (self.TYPE,) + tuple(self.driver_cls.schemes)

    def configure(self, re_raise_bsc=False):
        """Build the store_kit store.  A bad option fails glance's start-up
        (naming section and option), whatever *re_raise_bsc* says."""
        try:
            self.store = sk_registry.build_store(self.conf, self.backend_group,
                                                 self.STORE_KIT_DRIVER)
        except sk_exc.StoreKitError as exc:
            raise errors.to_glance(exc, 'configure') from None
        self._url_prefix = glance_prefixes(self.store)

    def get_store_location_class(self):
        return self.store_location_class

    # -- data ------------------------------------------------------------------

    def add(self, image_id, image_file, image_size, hashing_algo='md5',
            context=None, verifier=None):
        """Store *image_file*; return ``(url, size, md5, multihash,
        {'store': name})``."""
        data = image_file if verifier is None else _Verifying(image_file,
                                                              verifier)
        with errors.translate('add'):
            result = self.store.add(image_id, data, int(image_size or 0),
                                    hashing_algo)
        return (result.url, result.size, result.checksum, result.multihash,
                dict(result.metadata))

    def get(self, location, offset=0, chunk_size=None, context=None):
        """``(iterator, bytes it yields)`` from *offset*, *chunk_size* bytes
        at most (all when None)."""
        with errors.translate('get'):
            chunks, size = self.store.get(_url(location), offset=offset or 0,
                                          length=chunk_size)
        return _Chunks(chunks), size

    def get_size(self, location, context=None):
        with errors.translate('get_size'):
            return self.store.get_size(_url(location))

    def delete(self, location, context=None):
        with errors.translate('delete'):
            self.store.delete(_url(location))


def _url(location):
    """The URL of a glance_store ``Location`` (or of a URL string)."""
    if isinstance(location, str):
        return location
    return location.store_location.url


class FileStore(Store):
    """store_kit's file store inside glance (``store_kit_file``)."""

    TYPE = 'store_kit_file'
    STORE_KIT_DRIVER = 'file'


class S3Store(Store):
    """store_kit's s3 store inside glance (``store_kit_s3``)."""

    TYPE = 'store_kit_s3'
    STORE_KIT_DRIVER = 's3'


class HttpStore(Store):
    """store_kit's read-only http store inside glance (``store_kit_http``)."""

    TYPE = 'store_kit_http'
    STORE_KIT_DRIVER = 'http'
