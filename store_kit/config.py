"""Option definitions and registration, and ``list_opts`` for the generator.

The fixed options live in ``[DEFAULT]`` and ``[store_kit]``; each enabled
store gets a group named after it holding its driver's options (registered
by :func:`register_store_opts` when the registry is built, because the store
names are only known once the config files are parsed).
"""

import math

from oslo_config import cfg

from store_kit import exceptions
from store_kit import ops_config

DRIVER_NAMESPACE = 'store_kit.drivers'
#: Sections store_kit owns; no store may take one of these names.
FIXED_GROUPS = ('DEFAULT', 'store_kit') + tuple(g for g, _ in
                                                ops_config.GROUPS)

DEFAULT_OPTS = [
    cfg.DictOpt('enabled_backends',
                help='The stores to enable, as comma-separated '
                     'name:driver pairs, e.g. "fast:file, cold:s3, web:http". '
                     'Each name gets a config section of its own holding '
                     'its driver\'s options. Order is kept.'),
]

STORE_KIT_OPTS = [
    cfg.StrOpt('default_backend',
               help='Name of the store that add() uses when none is given. '
                    'Must be one of enabled_backends.'),
    cfg.StrOpt('hashing_algorithm', default='sha512',
               help='hashlib algorithm for the multihash of new images '
                    '(os_hash_algo).'),
]


def register_opts(conf):
    """Register the fixed options on *conf* (safe before or after parsing,
    and safe to call twice): the store options and the catalog, image
    service and scrubber ones."""
    conf.register_opts(DEFAULT_OPTS)
    conf.register_opts(STORE_KIT_OPTS, group='store_kit')
    ops_config.register_opts(conf)


def store_options(driver_cls):
    """All options a store of *driver_cls* has: common ones + the driver's."""
    from store_kit import driver
    return list(driver.COMMON_OPTIONS) + list(driver_cls.options)


def register_store_opts(conf, name, driver_cls):
    """Register the options of store *name* (driven by *driver_cls*)."""
    conf.register_opts(store_options(driver_cls), group=name)


def enabled_backends(conf):
    """The ``enabled_backends`` dict, in config-file order."""
    return conf.enabled_backends or {}


def fixed_groups():
    """``{group: [opts]}`` of the options store_kit registers itself."""
    groups = {'DEFAULT': DEFAULT_OPTS, 'store_kit': STORE_KIT_OPTS}
    groups.update(ops_config.GROUPS)
    return groups


def check_group(conf, group, opts=None):
    """Read every option of *group* (``'DEFAULT'`` for the top level; its
    options *opts*, by default those store_kit defines for a fixed group)
    so a bad value fails now, as :class:`BadStoreConfiguration` naming
    section and option: ``invalid value 'x': <oslo's reason>``.  A secret
    option's value is never echoed.  Float options must be finite."""
    if opts is None:
        opts = fixed_groups()[group]
    section = conf if group == 'DEFAULT' else conf[group]
    for opt in opts:
        try:
            value = getattr(section, opt.dest)
        except (cfg.ConfigFileValueError, ValueError) as exc:
            raise _bad_value(conf, group, opt,
                             str(exc).rsplit('is not valid: ', 1)[-1])
        if isinstance(value, float) and not math.isfinite(value):
            raise _bad_value(conf, group, opt, 'must be a finite number')


def check_fixed_groups(conf):
    """:func:`check_group` for every group store_kit itself defines."""
    for group in fixed_groups():
        check_group(conf, group)


def _bad_value(conf, group, opt, reason):
    if opt.secret:                    # oslo's reason may quote the value
        return exceptions.BadStoreConfiguration(group, opt.name,
                                                'invalid value')
    raw = _raw_value(conf, group, opt.dest)
    shown = 'invalid value' if raw is None else 'invalid value %r' % (raw,)
    return exceptions.BadStoreConfiguration(group, opt.name,
                                            '%s: %s' % (shown, reason))


def _raw_value(conf, group, dest):
    """The value as written in the config file, or None if unavailable."""
    try:
        values, _ = conf._namespace._get_file_value([(group, dest)])
    except Exception:  # private oslo API: best effort only
        return None
    return values[-1] if isinstance(values, list) and values else None


def list_opts():
    """Options for ``oslo-config-generator --namespace store_kit``.

    The per-store sections are shown once per driver, in a section named
    after the driver: name yours after the store instead.
    """
    from stevedore import extension
    mgr = extension.ExtensionManager(DRIVER_NAMESPACE, invoke_on_load=False)
    groups = [('DEFAULT', DEFAULT_OPTS), ('store_kit', STORE_KIT_OPTS)]
    groups += ops_config.list_opts()
    for ext in sorted(mgr, key=lambda e: e.name):
        groups.append(('%s_store_example' % ext.name, store_options(ext.plugin)))
    return groups
