"""StoreRegistry: loads the enabled stores, builds the location map and the
prefix index, and routes data calls to the store that owns a URL."""

import importlib.metadata
import logging
import re
import threading

from stevedore import named

from store_kit import compat
from store_kit import config
from store_kit import driver as driver_mod
from store_kit import exceptions
from store_kit import location
from store_kit import resolver as resolver_mod

LOG = logging.getLogger(__name__)

_STORE_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
_GLOBAL = {'map': {}, 'registry': None}
_GLOBAL_LOCK = threading.Lock()
_DRIVERS = {}


def driver_names():
    """Names published under ``store_kit.drivers`` (nothing is imported)."""
    eps = importlib.metadata.entry_points(group=config.DRIVER_NAMESPACE)
    return sorted({ep.name for ep in eps})


def load_driver(driver_name, store_name):
    """The driver class published as *driver_name*, imported on first use.

    Only enabled drivers are imported, so a command using file stores never
    pays for boto3.  Unknown or broken drivers are BadStoreConfiguration.
    """
    if driver_name in _DRIVERS:
        return _DRIVERS[driver_name]
    errors = []
    mgr = named.NamedExtensionManager(
        config.DRIVER_NAMESPACE, names=[driver_name], invoke_on_load=False,
        on_load_failure_callback=lambda m, ep, exc: errors.append(exc))
    found = [ext.plugin for ext in mgr if ext.name == driver_name]
    if found:
        _DRIVERS[driver_name] = found[0]
        return found[0]
    if errors:
        raise exceptions.BadStoreConfiguration(
            'DEFAULT', 'enabled_backends',
            'driver %r of store %r failed to load (%s: %s)'
            % (driver_name, store_name, type(errors[0]).__name__, errors[0]))
    raise exceptions.BadStoreConfiguration(
        'DEFAULT', 'enabled_backends',
        'unknown driver %r for store %r (known drivers: %s)'
        % (driver_name, store_name, ', '.join(driver_names())))


def get_location_map():
    """The location map of the last registry created in this process."""
    return _GLOBAL['map']


def get_registry():
    """The last :class:`StoreRegistry` created in this process, or None."""
    return _GLOBAL['registry']


def build_store(conf, name, driver_name, legacy=False):
    """One store *name* of driver *driver_name*, its options registered and
    checked on *conf*: what :func:`create_stores` does per store, for hosts
    that load stores one by one (glance, through ``store_kit.glance``).
    glance_store's option names are honoured (see :mod:`store_kit.compat`);
    *legacy*: the options are in ``[glance_store]`` (pre-multi-store)."""
    driver_cls = load_driver(driver_name, name)
    config.register_store_opts(conf, name, driver_cls)
    compat.prepare_store(conf, name, driver_cls, legacy=legacy)
    config.check_group(conf, name, config.store_options(driver_cls))
    return driver_cls(conf, name)


def create_stores(conf):
    """Build a :class:`StoreRegistry` from parsed config *conf*.

    Fails fast with :class:`BadStoreConfiguration` (naming section and
    option) on anything wrong in the store configuration.  Stores whose
    remote end is unreachable still load.
    """
    config.register_opts(conf)
    config.check_group(conf, 'DEFAULT')
    config.check_group(conf, 'store_kit')
    enabled = config.enabled_backends(conf)
    legacy = compat.is_legacy(conf, enabled)
    to_load = compat.backends(conf, enabled)    # glance-api.conf's forms too
    if not to_load:
        raise exceptions.BadStoreConfiguration(
            'DEFAULT', 'enabled_backends',
            'no store enabled; set e.g. "enabled_backends = fast:file"')
    stores = {}
    for name, driver_name in to_load.items():
        name = name.strip()
        if not _STORE_NAME_RE.match(name):
            raise exceptions.BadStoreConfiguration(
                'DEFAULT', 'enabled_backends', 'bad store name %r' % name)
        if name in config.FIXED_GROUPS or name.lower() == 'default':
            raise exceptions.BadStoreConfiguration(
                'DEFAULT', 'enabled_backends',
                'store name %r clashes with the fixed section [%s]'
                % (name, name))
        stores[name] = build_store(conf, name, (driver_name or '').strip(), legacy)

    default, (section, option) = compat.default_backend(conf, stores, enabled)
    if not default:
        raise exceptions.BadStoreConfiguration(
            'store_kit', 'default_backend',
            'not set; choose one of %s' % ', '.join(stores))
    if default not in stores:
        raise exceptions.BadStoreConfiguration(
            section, option,
            '%r is not an enabled store (enabled: %s)'
            % (default, ', '.join(stores)))
    algo = conf.store_kit.hashing_algorithm
    try:
        driver_mod.new_hash(algo)
    except exceptions.Invalid:
        raise exceptions.BadStoreConfiguration(
            'store_kit', 'hashing_algorithm',
            'unsupported hashing algorithm %r' % algo)
    registry = StoreRegistry(stores, default, hashing_algo=algo)
    with _GLOBAL_LOCK:
        _GLOBAL['map'] = registry.location_map
        _GLOBAL['registry'] = registry
    return registry


class StoreRegistry:
    """The enabled stores, in config order, and routing between them."""

    def __init__(self, stores, default_name, hashing_algo='sha512'):
        self._stores = dict(stores)
        self._default_name = default_name
        self.hashing_algo = hashing_algo
        self.index = resolver_mod.PrefixIndex()
        for name, store in self._stores.items():
            families = getattr(store, 'catch_all_families', ())
            if families:
                self.index.add_catch_all(families, name)
            else:
                for prefix in store.url_prefixes:
                    self.index.add_prefix(prefix, name)
        self._check_nesting()
        self.location_map = {
            name: {'store': store,
                   'store_entry': store.driver_name,
                   'location_class': store.location_class}
            for name, store in self._stores.items()}

    def _check_nesting(self):
        """A store that can delete may not own a proper ancestor of another
        store's URL prefix: it would read and delete that store's data.
        (Read-only stores, e.g. http, may nest: reads only delegate.)"""
        for name, store in self._stores.items():
            if getattr(store, 'catch_all_families', ()):
                continue
            for prefix in store.url_prefixes:
                for outer, outer_prefix in self.index.owners_above(prefix):
                    capabilities = getattr(self._stores[outer], 'capabilities',
                                           driver_mod.Capabilities.NONE)
                    if outer != name and (
                            capabilities & driver_mod.Capabilities.DELETE):
                        raise exceptions.BadStoreConfiguration(
                            outer, None,
                            'store %r (URL prefix %s) contains the URL prefix '
                            '%s of store %r: it would read and delete that '
                            'store\'s data; give them separate prefixes'
                            % (outer, outer_prefix, location.redact(prefix),
                               name))

    # -- lookup ------------------------------------------------------------

    def names(self):
        """Store names in config order."""
        return list(self._stores)

    def __getitem__(self, name):
        try:
            return self._stores[name]
        except (KeyError, TypeError):
            raise exceptions.UnknownStore(name, list(self._stores))

    def __contains__(self, name):
        return name in self._stores

    def __iter__(self):
        return iter(self._stores.values())

    def __len__(self):
        return len(self._stores)

    @property
    def default(self):
        """The ``default_backend`` store."""
        return self._stores[self._default_name]

    def resolve(self, url):
        """Name of the store that owns *url*, or ``None``."""
        return self.index.lookup(url)

    def store_of(self, location):
        """Name of the store holding *location* (a ``{'url', 'metadata'}``
        dict): the one its metadata names if enabled, else the one owning
        its URL, else None."""
        name = (location.get('metadata') or {}).get('store')
        if name in self._stores:
            return name
        return self.index.lookup(location.get('url'))

    def equivalent_keys(self, url):
        """:func:`location.url_key` of every spelling of *url* that reaches
        the same data through the store owning it (symlinked datadirs), so
        "is this data referenced elsewhere" finds every spelling."""
        name = self.index.lookup(url)
        urls = self._stores[name].aliases(url) if name is not None else [url]
        return sorted({location.url_key(u) for u in urls})

    def backfill(self, locations):
        """Fill ``metadata['store']`` in place where missing or stale.

        A location whose metadata names an enabled store is left alone; so is
        one no store owns.  Returns how many locations were changed.
        """
        changed = 0
        for loc in locations:
            metadata = loc.get('metadata') or {}
            name = self.store_of(loc)
            if name is None or name == metadata.get('store'):
                continue
            metadata['store'] = name
            loc['metadata'] = metadata
            changed += 1
        return changed

    def check_reachable(self):
        """``{name: (reachable, reason)}`` for every store."""
        return {name: store.check_reachable()
                for name, store in self._stores.items()}

    def close(self):
        """Close every store (their sessions and connection pools)."""
        for store in self._stores.values():
            store.close()

    # -- data --------------------------------------------------------------

    def _route(self, url, store):
        if store is not None:
            return self[store]
        name = self.index.lookup(url)
        if name is None:
            raise exceptions.BadStoreUri('no enabled store owns location %s'
                                         % location.redact(url))
        return self._stores[name]

    def add(self, image_id, data, size=0, store=None, hashing_algo=None):
        """Add to *store* (the default store when None)."""
        target = self.default if store is None else self[store]
        return target.add(image_id, data, size,
                          hashing_algo or self.hashing_algo)

    def get(self, url, store=None, offset=0, length=None):
        """Read from *store*, or from the store that owns *url*."""
        return self._route(url, store).get(url, offset=offset, length=length)

    def delete(self, url, store=None):
        """Delete from *store*, or from the store that owns *url*."""
        return self._route(url, store).delete(url)

    def get_size(self, url, store=None):
        """Size of the data at *url*."""
        return self._route(url, store).get_size(url)

    def __repr__(self):
        return '<StoreRegistry %s default=%s>' % (
            ', '.join('%s:%s' % (n, s.driver_name)
                      for n, s in self._stores.items()),
            self._default_name)
