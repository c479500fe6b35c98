"""glance-api.conf as store_kit reads it: glance_store's names for driver
types and options, and the pre-multi-store form.

The registry asks this module which stores a configuration enables, which
is its default store, and (per store) for the glance_store options store_kit
honours under another name or does not implement.  Everything here is data
about glance_store's configuration; neither glance nor glance_store is
imported.  See ``doc/glance.md``.
"""

import glob
import logging
import os

from oslo_config import cfg

from store_kit import config
from store_kit import exceptions

LOG = logging.getLogger(__name__)

GLANCE_GROUP = 'glance_store'

#: Driver types of glance configs -> store_kit driver names.  store_kit's
#: own names (``file``, ``s3``, ``http``, any ``store_kit.drivers`` entry
#: point) need no entry.
DRIVER_TYPES = {
    'store_kit_file': 'file', 'store_kit_s3': 's3', 'store_kit_http': 'http',
    'filesystem': 'file', 'glance.store.filesystem.Store': 'file',
    'glance.store.s3.Store': 's3', 'glance.store.http.Store': 'http',
}
#: glance_store driver types store_kit has no driver for: such a store is
#: named in a warning and left out (its locations stay unresolved).
UNSUPPORTED_TYPES = frozenset([
    'rbd', 'swift', 'cinder', 'vmware',
    'glance.store.rbd.Store', 'glance.store.swift.Store',
    'glance.store.cinder.Store', 'glance.store.vmware_datastore.Store',
])
#: pre-multi-store ``default_store`` (a URL scheme) -> store_kit driver.
LEGACY_SCHEMES = {'file': 'file', 'filesystem': 'file', 'http': 'http',
                  'https': 'http', 's3': 's3', 's3+http': 's3', 's3+https': 's3'}

#: glance_store options store_kit does not implement, and what it does
#: instead.  Named once in a warning when a store's section sets them.
UNSUPPORTED_OPTIONS = {
    'filesystem_thin_provisioning':
        'store_kit writes every byte of an image (no sparse files)',
    'filesystem_store_metadata_file':
        'store_kit records no datadir metadata in locations',
    'filesystem_store_thread_pool_size':
        'store_kit does file I/O in the calling thread, with no pool',
    'filesystem_store_threadpool_threshold':
        'store_kit does file I/O in the calling thread, with no pool',
    'filesystem_store_timeout':
        'store_kit does file I/O in the calling thread, with no timeout',
    's3_store_enable_data_integrity_protection':
        'store_kit\'s s3 store uses botocore\'s checksum defaults',
    's3_store_request_checksum_calculation':
        'store_kit\'s s3 store uses botocore\'s checksum defaults',
    's3_store_response_checksum_validation':
        'store_kit\'s s3 store uses botocore\'s checksum defaults',
}

#: glance_store's ``store_description``: store_kit's ``description``.  The
#: glance adapters register this same object (glance reads it).
STORE_DESCRIPTION = cfg.StrOpt(
    'store_description',
    help='glance_store\'s name for description (shown by glance\'s GET '
         '/v2/info/stores); used when description is not set.')

GLANCE_STORE_OPTS = [
    cfg.StrOpt('default_backend',
               help='glance-api.conf\'s default store; store_kit reads it '
                    'when [store_kit] default_backend is not set.'),
    cfg.ListOpt('stores', default=[],
                help='Pre-multi-store glance: the enabled driver types. '
                     'Read when enabled_backends is not set: one store per '
                     'driver, named after it, its options in [glance_store].'),
    cfg.StrOpt('default_store',
               help='Pre-multi-store glance: the scheme of the default '
                    'store.'),
]


def register_opts(conf):
    """Register the ``[glance_store]`` options store_kit reads."""
    conf.register_opts(GLANCE_STORE_OPTS, group=GLANCE_GROUP)


def file_sections(conf):
    """``{section: {option: [values]}}`` as written in *conf*'s config
    files (later files win), for the checks that need to know what a file
    sets rather than what an option's value is."""
    files = list(conf.config_file or []) if 'config_file' in conf else []
    dirs = conf.config_dir if 'config_dir' in conf else None
    for d in ([dirs] if isinstance(dirs, str) else dirs or []):
        files += sorted(glob.glob(os.path.join(d, '*.conf')))
    merged = {}
    for path in files:
        sections = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (OSError, cfg.ParseError):
            continue                     # oslo already said what was wrong
        for section, values in sections.items():
            target = merged.setdefault(section, {})
            for key, value in values.items():
                target[key.replace('-', '_')] = value
    return merged


def _driver(store_type):
    """store_kit driver name for *store_type*, or None when unsupported."""
    store_type = (store_type or '').strip()
    if store_type in UNSUPPORTED_TYPES:
        return None
    return DRIVER_TYPES.get(store_type, store_type)


def backends(conf, enabled):
    """``{store name: store_kit driver name}`` to load, in config order.

    *enabled* is ``enabled_backends``; when it is empty the pre-multi-store
    form (``[glance_store] stores``) is read: one store per driver, named
    after it, its options taken from ``[glance_store]``.  Stores of types
    store_kit has no driver for are named in a warning and left out; an
    unknown type is kept, for the registry to refuse.
    """
    register_opts(conf)
    if not enabled:
        return _legacy_backends(conf)
    found = {}
    for name, store_type in enabled.items():
        driver = _driver(store_type)
        if driver is None:
            LOG.warning('store %s: type %s has no store_kit driver; left out '
                        '(its locations are reported as unresolved)',
                        name.strip(), store_type.strip())
        else:
            found[name] = driver
    if not found:
        raise exceptions.BadStoreConfiguration(
            'DEFAULT', 'enabled_backends', 'no store store_kit can drive '
            '(%s)' % ', '.join('%s:%s' % kv for kv in enabled.items()))
    return found


def _legacy_backends(conf):
    found = {}
    for store_type in conf[GLANCE_GROUP].stores or []:
        driver = _driver(store_type)
        if driver is None:
            LOG.warning('[glance_store] stores: %s has no store_kit driver; '
                        'left out', store_type.strip())
        elif driver not in found:
            found[driver] = driver
    return found


def is_legacy(conf, enabled):
    """Whether the stores come from ``[glance_store] stores``."""
    register_opts(conf)
    return not enabled and bool(conf[GLANCE_GROUP].stores)


def default_backend(conf, stores, enabled):
    """``(name, (section, option))`` of the default store:
    ``[store_kit] default_backend``, else glance's ``[glance_store]
    default_backend`` (``default_store``, a scheme, in the pre-multi-store
    form).  When glance's default is a store that was left out (an rbd
    store...), the first store loaded is the default, with a warning."""
    own = conf.store_kit.default_backend
    if own:
        return own, ('store_kit', 'default_backend')
    group = conf[GLANCE_GROUP]
    if is_legacy(conf, enabled):
        where = 'default_store'
        scheme = (group.default_store or 'file').strip()
        name = LEGACY_SCHEMES.get(scheme)
        left_out = name not in stores
    else:
        where = 'default_backend'
        name = group.default_backend
        left_out = name in (enabled or {}) and name not in stores
    if left_out and stores:
        first = next(iter(stores))
        LOG.warning('[glance_store] %s: %s is not a store store_kit drives; '
                    'store_kit\'s default store is %s', where,
                    group.default_store if where == 'default_store' else name, first)
        name = first
    return name, (GLANCE_GROUP, where)


def prepare_store(conf, name, driver_cls, legacy=False):
    """Before store *name* (of *driver_cls*, its options registered) is
    built: honour glance_store's option names, and name once the ones
    store_kit does not implement.  In the pre-multi-store form the options
    come from ``[glance_store]``."""
    conf.register_opt(STORE_DESCRIPTION, group=name)
    sections = file_sections(conf)
    source = GLANCE_GROUP if legacy else name
    written = sections.get(source, {})
    known = {opt.dest for opt in driver_cls.options}
    if legacy:
        for opt in driver_cls.options:
            if opt.dest in written:
                conf.register_opt(opt, group=GLANCE_GROUP)
                config.check_group(conf, GLANCE_GROUP, [opt])
                conf.set_override(opt.dest, conf[GLANCE_GROUP][opt.dest], group=name)
    description = written.get('store_description')
    if description and 'description' not in written:
        conf.set_override('description', description[-1], group=name)
    ignored = [k for k in written if k in UNSUPPORTED_OPTIONS]
    if legacy:      # [glance_store] holds every driver's options: ours only
        families = {o.dest.split('_', 1)[0] for o in driver_cls.options}
        ignored = [k for k in ignored if k.split('_', 1)[0] in families]
    else:
        ignored += sorted(k for k in written if k not in known and k not in (
            'store_description', 'description', 'weight') and k not in UNSUPPORTED_OPTIONS)
    for key in ignored:
        LOG.warning('[%s] %s is not implemented by store_kit and is ignored: %s',
                    source, key, UNSUPPORTED_OPTIONS.get(
                        key, 'not an option of the %s driver' % driver_cls.driver_name))
    if 'https_insecure' in known and 'https_insecure' not in written and (
            GLANCE_GROUP in sections):
        LOG.warning('store %s: https_insecure is not set: store_kit verifies TLS '
                    'certificates (glance_store\'s http driver did not, by default)',
                    name)
