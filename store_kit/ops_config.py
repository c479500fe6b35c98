"""Options of the operational layer: catalog, image service, scrubber.

Registered on the same ``ConfigOpts`` as the store options (see
:mod:`store_kit.config`); ``list_opts()`` here feeds the sample config.
"""

from oslo_config import cfg

CATALOG_OPTS = [
    cfg.StrOpt('connection', secret=True,
               help='SQLAlchemy URL of the image catalog, e.g. '
                    'sqlite:////var/lib/store-kit/catalog.db, '
                    'postgresql+psycopg://user:pass@host/db or '
                    'mysql+pymysql://user:pass@host/db?charset=utf8mb4.'),
]

IMAGE_SERVICE_OPTS = [
    cfg.BoolOpt('delayed_delete', default=False,
                help='Deleting an image (or one location) marks its data '
                     'pending_delete; the scrubber removes it later. Off: '
                     'the data is deleted at once.'),
    cfg.IntOpt('user_storage_quota', default=0, min=0,
               help='Bytes each owner may store, counted as the catalog '
                    'counts usage (size of every active location of the '
                    'owner\'s live images). Enforced while streaming. '
                    '0 means unlimited.'),
]

SCRUBBER_OPTS = [
    cfg.IntOpt('scrub_time', default=0, min=0,
               help='Seconds a pending_delete location waits, after its '
                    'delete time, before the scrubber deletes its data.'),
    cfg.IntOpt('wakeup_time', default=300, min=1,
               help='Seconds between two passes of `store-kit scrub '
                    '--daemon`.'),
    cfg.IntOpt('lease_seconds', default=300, min=1,
               help='How long a scrubber owns the locations it claimed. If '
                    'it dies, another scrubber takes them over once the '
                    'lease has expired. Longer than one store delete.'),
    cfg.IntOpt('batch_size', default=100, min=1,
               help='Locations one scrubber claims at a time.'),
    cfg.IntOpt('retry_seconds', default=60, min=1,
               help='First delay before a failed delete is retried; it '
                    'doubles with every further failure.'),
    cfg.IntOpt('max_retry_seconds', default=3600, min=1,
               help='Longest delay between two retries of a failed '
                    'delete.'),
]

GROUPS = (('catalog', CATALOG_OPTS),
          ('image_service', IMAGE_SERVICE_OPTS),
          ('scrubber', SCRUBBER_OPTS))


def register_opts(conf):
    """Register the operational options on *conf* (idempotent)."""
    for group, opts in GROUPS:
        conf.register_opts(opts, group=group)


def list_opts():
    """``[(group, opts)]`` for oslo-config-generator."""
    return [(group, list(opts)) for group, opts in GROUPS]
