"""Evacuating a file store into S3, beside what an operator would script.

    python bench/copy.py                          # 200 images, 1-256 MiB, 8 GiB in all
    python bench/copy.py --images 40 --total-mib 1024 --workers 4

The S3 side is moto's server in its own process on 127.0.0.1 (real HTTP,
and its CPU is not ours).  Both runs start from the same catalog and file
store, each in a fresh child process (so peak RSS is its own):

* baseline: for each image, in turn, read it through the API-level read
  (``ImageService.download``, which verifies size and hashes), upload it
  with boto3's ``upload_fileobj`` (its default multipart and threads), then
  add the location (``Catalog.image_location_add``);
* store_kit: ``store_kit.copy.evacuate(... workers=N)`` (what ``store-kit
  evacuate fast --to cold --workers N`` does);
* ceiling: boto3 ``upload_file`` of every image file, N at once, with no
  hash check and no catalog: the most this moto server and disk take in,
  which bounds any copy tool here.
"""

import argparse
import datetime
import math
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

# the repository instead of bench/ (this file would shadow the stdlib copy module)
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from store_kit.catalog import Catalog, models  # noqa: E402
from store_kit.location import url_key  # noqa: E402
from tests.helpers import make_registry  # noqa: E402
from tests.moto_server import free_port  # noqa: E402
from tests.ops.conftest import file_and_s3_conf  # noqa: E402

MiB = 1 << 20


def conf(root, port, bucket):
    return file_and_s3_conf(root, 'http://127.0.0.1:%d' % port, 'AKIABENCHCOPY0000001',
                            'bench/copy+secret', bucket=bucket)


def sizes_for(n, total, seed=7):
    """*n* sizes, log-uniform between 1 and 256 MiB, scaled to *total* bytes."""
    rng = random.Random(seed)
    raw = [math.exp(rng.uniform(0, math.log(256))) for _ in range(n)]
    scale = total / (sum(raw) * MiB)
    return [max(MiB, min(256 * MiB, int(r * scale * MiB))) for r in raw]


def populate(root, sizes):
    """Images whose data lies in the file store, with real hashes."""
    import hashlib
    db = Catalog('sqlite:///%s/catalog.db' % root)
    db.create_schema()
    now = datetime.datetime.utcnow()
    block = os.urandom(MiB)
    images, locs = [], []
    for i, size in enumerate(sizes):
        image_id = '%08x-0000-0000-0000-%012x' % (i, i)
        path = os.path.join(root, 'fast', image_id)
        md5, sha = hashlib.md5(), hashlib.sha512()
        with open(path, 'wb') as f:
            left = size
            while left:
                chunk = block[:min(left, MiB)]
                f.write(chunk)
                md5.update(chunk)
                sha.update(chunk)
                left -= len(chunk)
        images.append({'id': image_id, 'status': 'active', 'visibility': 'private',
                       'owner': 'p1', 'size': size, 'checksum': md5.hexdigest(),
                       'os_hash_algo': 'sha512', 'os_hash_value': sha.hexdigest(),
                       'min_disk': 0, 'min_ram': 0, 'protected': False, 'os_hidden': False,
                       'created_at': now, 'updated_at': now, 'deleted': False})
        url = 'file://' + path
        locs.append({'image_id': image_id, 'url': url, 'url_key': url_key(url),
                     'meta_data': {'store': 'fast'}, 'status': 'active', 'attempts': 0,
                     'created_at': now, 'updated_at': now})
    with db.engine.begin() as conn:
        conn.execute(models.images.insert(), images)
        conn.execute(models.locations.insert(), locs)
    db.dispose()


class _Reader:
    """A file object over a download iterator, for upload_fileobj."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buf = b''

    def read(self, n=-1):
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                break
        if n < 0:
            out, self._buf = self._buf, b''
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def baseline_child(root, port, bucket, queue):
    from store_kit.context import RequestContext
    from store_kit.images import ImageService
    registry = make_registry(root, conf(root, port, bucket))
    db = Catalog('sqlite:///%s/catalog.db' % root)
    svc = ImageService(db, registry)
    admin = RequestContext(project_id='admin', is_admin=True)
    client = registry['cold'].client
    client.create_bucket(Bucket=bucket)
    t0 = time.perf_counter()
    total = 0
    for image in db.image_get_all(admin, limit=100000):
        chunks = svc.download(admin, image['id'])
        client.upload_fileobj(_Reader(chunks), bucket, image['id'])
        db.image_location_add(admin, image['id'], {
            'url': 's3://127.0.0.1:%d/%s/%s' % (port, bucket, image['id']),
            'metadata': {'store': 'cold'}})
        total += image['size']
    queue.put((total, time.perf_counter() - t0, rss_mib()))


def store_kit_child(root, port, bucket, workers, queue):
    from store_kit import copy
    registry = make_registry(root, conf(root, port, bucket))
    db = Catalog('sqlite:///%s/catalog.db' % root)
    t0 = time.perf_counter()
    report = copy.evacuate(db, registry, 'fast', 'cold', workers=workers)
    assert report.failed == 0, report.failures
    queue.put((report.bytes, time.perf_counter() - t0, rss_mib()))


def ceiling_child(root, port, bucket, workers, queue):
    from concurrent.futures import ThreadPoolExecutor
    registry = make_registry(root, conf(root, port, bucket))
    client = registry['cold'].client
    client.create_bucket(Bucket=bucket)
    datadir = os.path.join(root, 'fast')
    names = sorted(os.listdir(datadir))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda name: client.upload_file(os.path.join(datadir, name),
                                                      bucket, name), names))
    total = sum(os.path.getsize(os.path.join(datadir, name)) for name in names)
    queue.put((total, time.perf_counter() - t0, rss_mib()))


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(target, *args):
    ctx = multiprocessing.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=args + (queue,))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--images', type=int, default=200)
    ap.add_argument('--total-mib', type=int, default=8192)
    ap.add_argument('--workers', type=int, default=4)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix='bench-copy-')
    port = free_port()
    moto = subprocess.Popen([sys.executable, '-m', 'moto.server', '-H', '127.0.0.1',
                             '-p', str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        make_registry(root, conf(root, port, 'unused'))
        sizes = sizes_for(args.images, args.total_mib * MiB)
        t0 = time.perf_counter()
        populate(root, sizes)
        print('%d images, %d to %d MiB, %.0f MiB in all (made in %.0fs); moto server '
              'in its own process' % (len(sizes), min(sizes) // MiB, max(sizes) // MiB,
                                      sum(sizes) / MiB, time.perf_counter() - t0))
        shutil.copy(os.path.join(root, 'catalog.db'), os.path.join(root, 'pristine.db'))
        runs = {}
        for name, target, extra in (('baseline', baseline_child, ()),
                                    ('store_kit', store_kit_child, (args.workers,)),
                                    ('ceiling', ceiling_child, (args.workers,))):
            shutil.copy(os.path.join(root, 'pristine.db'), os.path.join(root, 'catalog.db'))
            for suffix in ('-wal', '-shm'):
                if os.path.exists(os.path.join(root, 'catalog.db' + suffix)):
                    os.unlink(os.path.join(root, 'catalog.db' + suffix))
            nbytes, elapsed, rss = in_child(target, root, port, 'bucket-' + name.replace(
                '_', '-'), *extra)
            runs[name] = nbytes / elapsed
            print('  %-10s: %6.0f MiB in %6.1fs = %6.1f MiB/s, peak RSS %4.0f MiB%s'
                  % (name, nbytes / MiB, elapsed, nbytes / MiB / elapsed, rss,
                     ' (--workers %d)' % args.workers if extra else ''))
        print('  ratio     : %.2fx the baseline; store_kit at %.0f%% of the ceiling, the '
              'baseline at %.0f%%' % (runs['store_kit'] / runs['baseline'],
                                      100 * runs['store_kit'] / runs['ceiling'],
                                      100 * runs['baseline'] / runs['ceiling']))
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
