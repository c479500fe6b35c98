"""A store_kit process the fault tests kill at a chosen moment.

``python -m tests.reliability.fault_worker MODE CONF_FILE CATALOG_URL MARKER
SIZE [STORE]``; MODE is

* ``stall``: upload SIZE bytes; after half of them touch MARKER and stall
  (the test kills us mid-add);
* ``die-before-commit``: upload SIZE bytes and SIGKILL ourselves when the
  data is stored but before the catalog records it.
"""

import os
import signal
import sys
import time

from oslo_config import cfg

import store_kit
from store_kit.catalog import Catalog
from store_kit.context import RequestContext
from store_kit.images import ImageService

CHUNK = 1 << 20


def _data(size, marker, stall):
    sent = 0
    while sent < size:
        n = min(CHUNK, size - sent)
        yield b'k' * n
        sent += n
        if stall and sent >= size // 2:
            open(marker, 'w').close()
            time.sleep(600)


def main(mode, conf_file, catalog_url, marker, size, store=None):
    conf = cfg.ConfigOpts()
    store_kit.register_opts(conf)
    conf(['--config-file', conf_file], default_config_files=[], default_config_dirs=[])
    registry = store_kit.create_stores(conf)
    db = Catalog(catalog_url)
    if mode == 'die-before-commit':
        real_update = db.image_update

        def update(ctx, image_id, values, **kw):
            if values.get('status') == 'active':
                open(marker, 'w').close()
                os.kill(os.getpid(), signal.SIGKILL)
            return real_update(ctx, image_id, values, **kw)
        db.image_update = update
    svc = ImageService(db, registry)
    svc.upload(RequestContext(project_id='victim'), _data(int(size), marker, mode == 'stall'),
               size=int(size), store=store, name='doomed')


if __name__ == '__main__':
    main(*sys.argv[1:])
