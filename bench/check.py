"""store-kit check on a large catalog, beside the ways it could be done naively.

    python bench/check.py                          # 1,000,000 file locations, 100,000 objects
    python bench/check.py --locations 100000 --objects 10000

Two parts, each timed in this process beside its baselines:

* file store: N images with one location each, N files (1% of them
  missing, 1% extra orphans).  ``check.run`` (what ``store-kit check`` does:
  one ``lstat`` per location, one directory listing, batched reference
  queries) against a baseline calling ``registry.get_size(url)`` per location
  (the public per-URL path, with its full confinement checks), measured on a
  sample.
* s3 store on moto's threaded server (real HTTP on 127.0.0.1): M objects
  and M locations.  ``check.run`` (one bucket listing) against a HEAD per
  object (sampled) and against the bare paginated listing alone: the check
  should cost about as much as the listing.
"""

import argparse
import datetime
import logging
import os
import resource
import sys
import tempfile
import time

# the repository instead of bench/ (whose copy.py would shadow the stdlib module)
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from store_kit import check  # noqa: E402
from store_kit.catalog import Catalog, models  # noqa: E402
from store_kit.location import url_key  # noqa: E402
from tests.helpers import make_registry  # noqa: E402
from tests.moto_server import moto_server  # noqa: E402
from tests.ops.conftest import file_and_s3_conf  # noqa: E402

OLD = time.time() - 3 * 86400


def image_id(prefix, i):
    return '%s%07x-0000-0000-0000-%012x' % (prefix, i, i)


def insert(db, urls_by_image):
    """Active images of size 1 with the given location URLs, in bulk."""
    now = datetime.datetime.utcnow()
    items = list(urls_by_image.items())
    with db.engine.begin() as conn:
        for start in range(0, len(items), 20000):
            chunk = items[start:start + 20000]
            conn.execute(models.images.insert(), [
                {'id': iid, 'status': 'active', 'visibility': 'private', 'owner': 'p1',
                 'size': 1, 'min_disk': 0, 'min_ram': 0, 'protected': False,
                 'os_hidden': False, 'created_at': now, 'updated_at': now,
                 'deleted': False} for iid, _ in chunk])
            conn.execute(models.locations.insert(), [
                {'image_id': iid, 'url': url, 'url_key': url_key(url), 'meta_data': {},
                 'status': 'active', 'attempts': 0, 'created_at': now, 'updated_at': now}
                for iid, url in chunk])


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    """(result, wall seconds); the CPU seconds of the last call are kept in
    ``timed.cpu`` (less sensitive to a busy machine than the wall clock)."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    timed.cpu = time.process_time() - c0
    return result, time.perf_counter() - t0


def file_part(root, registry, n, sample):
    datadir = os.path.join(root, 'fast')
    db = Catalog('sqlite:///%s/file-catalog.db' % root)
    db.create_schema()
    urls = {}
    t0 = time.perf_counter()
    for i in range(n):
        iid = image_id('a', i)
        path = os.path.join(datadir, iid)
        urls[iid] = 'file://' + path
        if i % 100 == 7:
            continue                                  # 1%: data missing
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b'x')
        os.close(fd)
        os.utime(path, (OLD, OLD))
    for i in range(n // 100):                         # 1%: orphans
        path = os.path.join(datadir, image_id('f', i))
        with open(path, 'wb') as f:
            f.write(b'o')
        os.utime(path, (OLD, OLD))
    insert(db, urls)
    print('file store: %d locations, %d files, made in %.0fs'
          % (n, n - n // 100 + n // 100, time.perf_counter() - t0))
    report, elapsed = timed(lambda: check.run(db, registry, stores=['fast']))
    kinds = {}
    for f in report:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    print('  check.run        : %8d locations + %d files in %6.2fs = %8.0f loc/s '
          '(CPU %.2fs = %.0f loc/s)  %s  peak RSS %.0f MiB'
          % (report.locations, report.listed, elapsed, report.locations / elapsed,
             timed.cpu, report.locations / timed.cpu, kinds, rss_mib()))
    chosen = list(urls.values())[::max(1, n // sample)][:sample]

    def per_url():
        for url in chosen:
            try:
                registry.get_size(url)
            except Exception:  # noqa: BLE001 -- missing ones count too
                pass
    _, base = timed(per_url)
    print('  get_size per URL : %8d locations in %6.2fs = %8.0f loc/s  (sample)'
          % (len(chosen), base, len(chosen) / base))
    print('  ratio            : %.1fx' % ((report.locations / elapsed) / (len(chosen) / base)))
    db.dispose()


def s3_part(root, registry, port, m, sample):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    store = registry['cold']
    store.client.create_bucket(Bucket='images')
    backend = s3_backends[DEFAULT_ACCOUNT_ID]['aws']
    db = Catalog('sqlite:///%s/s3-catalog.db' % root)
    db.create_schema()
    urls = {}
    t0 = time.perf_counter()
    for i in range(m):
        iid = image_id('b', i)
        backend.put_object('images', iid, b'x')       # straight into moto's backend
        urls[iid] = 's3://127.0.0.1:%d/images/%s' % (port, iid)
    insert(db, urls)
    print('\ns3 store (moto server): %d objects and locations, made in %.0fs'
          % (m, time.perf_counter() - t0))
    time.sleep(1.1)
    report, elapsed = timed(lambda: check.run(db, registry, stores=['cold'], grace=1))
    print('  check.run        : %8d locations + %d objects in %6.2fs = %8.0f loc/s  '
          '%d findings' % (report.locations, report.listed, elapsed,
                           report.locations / elapsed, len(report)))

    def listing():
        count = 0
        for page in store.client.get_paginator('list_objects_v2').paginate(Bucket='images'):
            count += len(page.get('Contents', ()))
        return count
    listed, list_time = timed(listing)
    print('  bare listing     : %8d objects in %6.2fs (check / listing = %.2f: the '
          'check costs two listings, one per pass)' % (listed, list_time, elapsed / list_time))
    chosen = list(urls.values())[::max(1, m // sample)][:sample]
    _, base = timed(lambda: [store.get_size(u) for u in chosen])
    print('  HEAD per object  : %8d objects in %6.2fs = %8.0f loc/s  (sample)'
          % (len(chosen), base, len(chosen) / base))
    print('  ratio            : %.1fx' % ((report.locations / elapsed) / (len(chosen) / base)))
    db.dispose()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--locations', type=int, default=1_000_000)
    ap.add_argument('--objects', type=int, default=100_000)
    ap.add_argument('--sample', type=int, default=2000)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix='bench-check-')
    logging.getLogger('werkzeug').setLevel(logging.ERROR)     # one line per request
    with moto_server() as port:
        registry = make_registry(root, file_and_s3_conf(
            root, 'http://127.0.0.1:%d' % port, 'AKIABENCHCHECK000001', 'bench/check+secret'))
        if args.locations:
            file_part(root, registry, args.locations, args.sample)
        if args.objects:
            s3_part(root, registry, port, args.objects, args.sample)


if __name__ == '__main__':
    main()
