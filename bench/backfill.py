"""Bulk backfill against the per-image way, on a catalog of legacy locations.

    python bench/backfill.py                    # 1,000,000 locations, SQLite
    python bench/backfill.py --engine postgresql
    python bench/backfill.py --locations 100000 --sample 2000

Builds a catalog of images with locations spread over 10 file stores (a
tenth of them unresolvable), none carrying metadata['store'].  Then:

* bulk: ``store_kit.backfill.run`` (what ``store-kit backfill`` does), run
  in a fresh process so its peak RSS is its own; also on a catalog a tenth
  the size, to show memory does not grow with the catalog;
* per image: the incumbent's way, on a sample of images: load the image with
  the resolver attached (backfill on read), one transaction per image.
"""

import argparse
import datetime
import multiprocessing
import os
import resource
import sys
import tempfile
import time

# the repository instead of bench/ (whose copy.py would shadow the stdlib module)
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from store_kit.catalog import Catalog, models  # noqa: E402
from store_kit.context import RequestContext  # noqa: E402
from store_kit.location import url_key  # noqa: E402
from tests.catalog import databases  # noqa: E402
from tests.helpers import make_registry  # noqa: E402

STORES = 10
PER_IMAGE = 4
ADMIN = RequestContext(project_id='admin', is_admin=True)


def conf_text(root):
    names = ['s%d' % i for i in range(STORES)]
    text = '[DEFAULT]\nenabled_backends = %s\n[store_kit]\ndefault_backend = s0\n' % (
        ', '.join('%s:file' % n for n in names))
    for n in names:
        text += '[%s]\nfilesystem_store_datadir = %s/%s\n' % (n, root, n)
    return text


def populate(url, root, n_locations):
    """n_locations legacy locations, PER_IMAGE per image, in bulk inserts."""
    db = Catalog(url)
    db.create_schema()
    now = datetime.datetime.utcnow()
    n_images = n_locations // PER_IMAGE
    step = 20000
    with db.engine.begin() as conn:
        for start in range(0, n_images, step):
            images, locs = [], []
            for i in range(start, min(n_images, start + step)):
                image_id = '%08x-0000-0000-0000-%012x' % (i, i)
                images.append({'id': image_id, 'status': 'active', 'visibility': 'public',
                               'owner': 'p1', 'size': 1, 'min_disk': 0, 'min_ram': 0,
                               'protected': False, 'os_hidden': False, 'created_at': now,
                               'updated_at': now, 'deleted': False})
                for j in range(PER_IMAGE):
                    k = i * PER_IMAGE + j
                    if k % 10 == 9:
                        url_ = 'http://legacy-%d.example/images/%s' % (k % 3, image_id)
                    else:
                        url_ = 'file://%s/s%d/%s-%d' % (root, k % STORES, image_id, j)
                    locs.append({'image_id': image_id, 'url': url_, 'url_key': url_key(url_),
                                 'meta_data': {},
                                 'status': 'active', 'attempts': 0,
                                 'created_at': now, 'updated_at': now})
            conn.execute(models.images.insert(), images)
            conn.execute(models.locations.insert(), locs)
    if db.dialect != 'sqlite':          # a live catalog has planner statistics
        with db.engine.begin() as conn:
            conn.exec_driver_sql('ANALYZE %slocations' % (
                'TABLE ' if db.dialect in ('mysql', 'mariadb') else ''))
    db.dispose()
    return n_images


def bulk_child(url, root, batch_size, queue):
    from store_kit import backfill
    registry = make_registry(root, conf_text(root))
    db = Catalog(url)
    t0 = time.perf_counter()
    report = backfill.run(db, registry, batch_size=batch_size)
    elapsed = time.perf_counter() - t0
    queue.put((report.scanned, report.resolved, report.unresolved, elapsed,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    db.dispose()


def bulk(url, root, batch_size):
    ctx = multiprocessing.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=bulk_child, args=(url, root, batch_size, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def per_image(url, root, n_images, sample):
    registry = make_registry(root, conf_text(root))
    db = Catalog(url, resolver=registry)
    ids = ['%08x-0000-0000-0000-%012x' % (i, i)
           for i in range(0, n_images, max(1, n_images // sample))][:sample]
    t0 = time.perf_counter()
    for image_id in ids:
        db.image_get(ADMIN, image_id)          # load + backfill + save, 1 txn
    elapsed = time.perf_counter() - t0
    db.dispose()
    return len(ids) * PER_IMAGE, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--engine', default='sqlite', choices=databases.ENGINES)
    ap.add_argument('--locations', type=int, default=1_000_000)
    ap.add_argument('--sample', type=int, default=5000,
                    help='images loaded the per-image way')
    ap.add_argument('--batch-size', type=int, default=10000)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix='bench-backfill-')
    make_registry(root, conf_text(root))       # creates the datadirs
    print('engine %s, %d stores, %d locations per image, batch %d'
          % (args.engine, STORES, PER_IMAGE, args.batch_size))
    rates = {}
    for n in (args.locations // 10, args.locations):
        url = databases.create_database(args.engine, root + '/%d' % n)
        try:
            t0 = time.perf_counter()
            n_images = populate(url, root, n)
            print('\n%d locations (%d images) created in %.1fs'
                  % (n, n_images, time.perf_counter() - t0))
            scanned, resolved, unresolved, elapsed, rss = bulk(url, root, args.batch_size)
            rates[n] = scanned / elapsed
            print('  bulk backfill  : %9d locations in %6.2fs = %9.0f loc/s  '
                  '(%d resolved, %d unresolved), peak RSS %.0f MiB'
                  % (scanned, elapsed, rates[n], resolved, unresolved, rss))
            if n == args.locations:
                count, elapsed = per_image(url, root, n_images, args.sample)
                base = count / elapsed
                print('  per image      : %9d locations in %6.2fs = %9.0f loc/s  '
                      '(sample of %d images, one transaction each)'
                      % (count, elapsed, base, count // PER_IMAGE))
                print('  speed-up       : %.1fx' % (rates[n] / base))
        finally:
            databases.drop_database(args.engine, url)


if __name__ == '__main__':
    main()
