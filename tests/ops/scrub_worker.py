"""A scrubber process for the multi-node test (run with the spawn method).

It scrubs until no pending_delete location is left (or a deadline passes),
appending every URL it deletes from a store to its own log file.
"""

import os
import time

import sqlalchemy as sa

from store_kit.catalog import Catalog, models
from store_kit.scrubber import Scrubber
from tests import helpers


def pending(db):
    t = models.locations
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(
            t.c.status == 'pending_delete')).scalar()


def run(catalog_url, conf_dir, conf_text, log_path, deadline):
    os.makedirs(conf_dir, exist_ok=True)
    registry = helpers.make_registry(conf_dir, conf_text)
    real_delete = registry.delete

    def logged_delete(url, store=None):
        with open(log_path, 'a') as log:
            log.write(url + '\n')
        return real_delete(url, store=store)
    registry.delete = logged_delete
    db = Catalog(catalog_url)
    scrubber = Scrubber(db, registry, batch_size=25, lease_seconds=30)
    total = 0
    try:
        while time.time() < deadline:
            total += scrubber.run_once()
            if not pending(db):
                break
            time.sleep(0.1)
    finally:
        db.dispose()
    return total
