"""Functions run in worker processes by the concurrency tests (importable for spawn)."""

from store_kit import exceptions
from store_kit.catalog import Catalog
from store_kit.context import RequestContext


def create_member(url, image_id, member, barrier, results):
    """Try to add ``member``; report 'ok', 'duplicate' or the error's class name."""
    db = Catalog(url)
    try:
        barrier.wait()
        try:
            db.image_member_create(RequestContext('p1'), {'image_id': image_id,
                                                          'member': member})
            results.put('ok')
        except exceptions.Duplicate:
            results.put('duplicate')
        except Exception as err:   # reported to, and failed by, the test
            results.put('%s: %s' % (type(err).__name__, err))
    finally:
        db.dispose()


def claim(url, owner, barrier, results):
    """Claim pending deletes and report the ids claimed."""
    db = Catalog(url)
    try:
        barrier.wait()
        results.put([row['id'] for row in db.claim_pending_deletes(owner, limit=50)])
    finally:
        db.dispose()
