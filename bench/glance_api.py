"""Upload and download through the real glance API: store_kit's drivers
beside glance_store's stock drivers, in the same glance process.

    python bench/glance_api.py                   # 256 MiB, 3 rounds
    python bench/glance_api.py --size-mib 64 --rounds 5

One glance 33 (werkzeug, no keystone, SQLite) serves four stores:
``sk_file`` (store_kit_file) and ``stock_file`` (file) on the same disk,
``sk_s3`` (store_kit_s3) and ``stock_s3`` (s3) on one moto server
(``moto_server``, a process of its own) on 127.0.0.1.  Each round uploads
the same bytes into each store with ``PUT /v2/images/{id}/file``
(Content-Length known, as glanceclient sends a file) and downloads them
back (``GET .../file``, bytes counted, not kept); the order of the two
drivers alternates between rounds.  File downloads run from disk (the
file evicted from the page cache first: store_kit writes with O_DIRECT,
glance_store through the cache), then from the cache (best of three).
Reported: median seconds and MiB/s per store and operation, the
stock/store_kit ratio of the medians (> 1: store_kit faster), the ratio of
each round, and the glance process's peak RSS growth during each
operation.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT           # not bench/: bench/copy.py would shadow the stdlib

import requests  # noqa: E402

from tests.glance import server  # noqa: E402

MiB = 1 << 20
ACCESS = 'AKIABENCHGLANCEAPI01'
SECRET = 'bench/glance+api:secret'


class RssWatch:
    """Peak RSS of process *pid* while the block runs (sampled every 20 ms)."""

    def __init__(self, pid):
        self.pid, self.peak, self.start = pid, 0, 0
        self._stop = threading.Event()

    def _rss(self):
        with open('/proc/%d/status' % self.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self.start = self.peak = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth(self):
        return self.peak - self.start


def start_moto(port, work):
    """moto's server in a process of its own (not competing with this
    client for the GIL), on 127.0.0.1:*port*."""
    out = open(os.path.join(work, 'moto.out'), 'wb')
    proc = subprocess.Popen([server.bin_path('moto_server'), '-H', '127.0.0.1',
                             '-p', str(port)], stdout=out, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            requests.get('http://127.0.0.1:%d/' % port, timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError('moto_server did not start')


def make_data(path, size):
    block = os.urandom(MiB)
    with open(path, 'wb') as f:
        for i in range(size // MiB):
            f.write(block[i % 7:] + block[:i % 7])
        f.write(block[:size % MiB])


def evict(path):
    """Drop *path* from the page cache (the next read comes from disk):
    store_kit writes with O_DIRECT, glance_store through the cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def create_image(url):
    resp = requests.post(url + '/v2/images', timeout=30, json={
        'name': 'bench', 'disk_format': 'raw', 'container_format': 'bare'})
    resp.raise_for_status()
    return resp.json()['id']


def upload(url, store, path):
    image_id = create_image(url)
    with open(path, 'rb') as f:
        t = time.perf_counter()
        resp = requests.put('%s/v2/images/%s/file' % (url, image_id), data=f, timeout=3600,
                            headers={'Content-Type': 'application/octet-stream',
                                     'X-Image-Meta-Store': store})
        elapsed = time.perf_counter() - t
    resp.raise_for_status()
    info = requests.get('%s/v2/images/%s' % (url, image_id), timeout=30).json()
    assert info['status'] == 'active' and info['stores'] == store, info
    return image_id, elapsed


def download(url, image_id, size):
    got = 0
    t = time.perf_counter()
    with requests.get('%s/v2/images/%s/file' % (url, image_id), stream=True,
                      timeout=3600) as resp:
        resp.raise_for_status()
        for chunk in resp.iter_content(MiB):
            got += len(chunk)
    elapsed = time.perf_counter() - t
    assert got == size, (got, size)
    return elapsed


def run_in(work):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=256)
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MiB

    import boto3
    os.environ.setdefault('NO_PROXY', '127.0.0.1')
    moto_port = server.free_port()
    moto = start_moto(moto_port, work)
    try:
        s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:%d' % moto_port,
                          aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                          region_name='us-east-1')
        for bucket in ('sk-images', 'stock-images'):
            s3.create_bucket(Bucket=bucket)
        s3opts = {'s3_store_host': 'http://127.0.0.1:%d' % moto_port,
                  's3_store_access_key': ACCESS, 's3_store_secret_key': SECRET}
        data = os.path.join(work, 'data')
        backends = [
            ('sk_file', 'store_kit_file', {'filesystem_store_datadir': data + '/sk'}),
            ('stock_file', 'file', {'filesystem_store_datadir': data + '/stock'}),
            ('sk_s3', 'store_kit_s3', dict(s3opts, s3_store_bucket='sk-images')),
            ('stock_s3', 's3', dict(s3opts, s3_store_bucket='stock-images')),
        ]
        server.write_config(work, backends, 'sk_file', 'sqlite:///%s/glance.sqlite' % work)
        path = os.path.join(work, 'image.raw')
        make_data(path, size)

        # The S3 ceiling: boto3's own threaded transfer of the same file.
        ceiling = []
        for _ in range(2):
            t = time.perf_counter()
            s3.upload_file(path, 'sk-images', 'ceiling')
            ceiling.append(time.perf_counter() - t)
            s3.delete_object(Bucket='sk-images', Key='ceiling')

        times = {}          # (store, op) -> [seconds]
        rss = {}            # (store, op) -> [bytes]
        with server.GlanceServer(work) as glance:
            pid = glance.proc.pid
            for rnd in range(args.rounds):
                for family in ('file', 's3'):
                    pair = ['sk_' + family, 'stock_' + family]
                    if rnd % 2:
                        pair.reverse()
                    for store in pair:
                        with RssWatch(pid) as watch:
                            image_id, up = upload(glance.url, store, path)
                        rss.setdefault((store, 'upload'), []).append(watch.growth)
                        times.setdefault((store, 'upload'), []).append(up)
                        if family == 'file':        # from disk, then from the cache
                            evict(os.path.join(data, store.split('_')[0], image_id))
                        with RssWatch(pid) as watch:
                            down = download(glance.url, image_id, size)
                        rss.setdefault((store, 'download'), []).append(watch.growth)
                        times.setdefault((store, 'download'), []).append(down)
                        if family == 'file':
                            times.setdefault((store, 'download (cached)'), []).append(min(
                                download(glance.url, image_id, size) for _ in range(3)))
                        requests.delete('%s/v2/images/%s' % (glance.url, image_id),
                                        timeout=120).raise_for_status()
                print('round %d done' % (rnd + 1), file=sys.stderr)
    finally:
        moto.terminate()
        moto.wait()

    print('%d MiB through glance 33, %d rounds (median; ratio = stock / store_kit time)'
          % (args.size_mib, args.rounds))
    print('| store | op | store_kit s | MiB/s | stock s | MiB/s | ratio | per round '
          '| RSS growth sk / stock (MiB) |')
    print('|---|---|---|---|---|---|---|---|---|')
    for family in ('file', 's3'):
        for op in ('upload', 'download', 'download (cached)'):
            if (family, op) == ('s3', 'download (cached)'):
                continue
            sk_t = times[('sk_' + family, op)]
            st_t = times[('stock_' + family, op)]
            sk_m, st_m = statistics.median(sk_t), statistics.median(st_t)
            rounds = ' '.join('%.2f' % (b / a) for a, b in zip(sk_t, st_t))
            print('| %s | %s | %.2f | %.0f | %.2f | %.0f | %.2f× | %s | %.0f / %.0f |' % (
                family, op, sk_m, args.size_mib / sk_m, st_m, args.size_mib / st_m,
                st_m / sk_m, rounds, max(rss.get(('sk_' + family, op), [0])) / MiB,
                max(rss.get(('stock_' + family, op), [0])) / MiB))
    print('moto_server ceiling (boto3 upload_file of the same file, no glance): '
          '%.0f MiB/s' % (args.size_mib / min(ceiling)))
    print('load average at the end: %.1f %.1f %.1f' % os.getloadavg())


def main():
    with tempfile.TemporaryDirectory(prefix='bench-glance-api-') as work:
        run_in(work)


if __name__ == '__main__':
    main()
