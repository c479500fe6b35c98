"""S3 multipart upload: store_kit's S3Store.add() beside boto3's own
upload_fileobj, same data, same part size and concurrency, same process,
against moto's ThreadedMotoServer on 127.0.0.1.

    python bench/s3_upload.py [--size-mib 256] [--part-mib 10] [--threads 10]
                              [--repeat 5] [--server-in-process] [--diagnose]

Every upload gets a fresh server (moto slows down as it accumulates data),
run in a child process by default so its CPU and memory stay out of the
client's figures (--server-in-process puts it in this process).  Runs of
the two are interleaved, alternating which goes first; throughput is MB/s
(10^6 bytes) of the median and of the best run.  Our add() also computes
md5 + sha512 of the data (in two threads); upload_fileobj hashes nothing,
so it is also run with the same hashing done on the file it reads (what a
boto3 caller needing the checksums would do).
Peak memory is the tracemalloc peak of Python allocations during one more,
untimed upload of each.
"""

import argparse
import hashlib
import io
import os
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc

# the repository instead of bench/ (whose copy.py would shadow the stdlib module)
sys.path[0] = __file__.rsplit('/bench/', 1)[0]

import boto3  # noqa: E402
from boto3.s3 import transfer  # noqa: E402
from botocore import config as botocore_config  # noqa: E402
from oslo_config import cfg  # noqa: E402

import store_kit  # noqa: E402
from store_kit import driver  # noqa: E402

MiB = 1 << 20
ACCESS = 'AKIABENCHMARK0000000'
SECRET = 'bench/secret+key:0000000000000000'
BUCKET = 'bench'

_SERVER = textwrap.dedent("""
    import sys, time
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=int(sys.argv[1]),
                                verbose=False)
    server.start()
    print('ready', flush=True)
    sys.stdin.read()              # until the parent closes our stdin
    server.stop()
""")


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError('moto server on port %d did not start' % port)


def start_server(in_process):
    """Start ThreadedMotoServer; return (port, stop callable)."""
    port = free_port()
    if in_process:
        from moto.server import ThreadedMotoServer
        server = ThreadedMotoServer(ip_address='127.0.0.1', port=port,
                                    verbose=False)
        server.start()
        wait_for(port)
        return port, server.stop
    proc = subprocess.Popen([sys.executable, '-c', _SERVER, str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    proc.stdout.readline()
    wait_for(port)

    def stop():
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return port, stop


def make_store(port, part_mib, threads, tmpdir):
    """An S3Store that goes multipart from one part up, as boto3 does with
    multipart_threshold = part size."""
    path = os.path.join(tmpdir, 'bench.conf')
    with open(path, 'w') as f:
        f.write(textwrap.dedent("""
            [DEFAULT]
            enabled_backends = bench:s3
            [store_kit]
            default_backend = bench
            [bench]
            s3_store_host = http://127.0.0.1:%d
            s3_store_access_key = %s
            s3_store_secret_key = %s
            s3_store_bucket = %s
            s3_store_create_bucket_on_put = true
            s3_store_large_object_size = %d
            s3_store_large_object_chunk_size = %d
            s3_store_thread_pools = %d
            """ % (port, ACCESS, SECRET, BUCKET, part_mib, part_mib,
                   threads)))
    conf = cfg.ConfigOpts()
    store_kit.register_opts(conf)
    conf(['--config-file', path], project='store-kit',
         default_config_files=[], default_config_dirs=[])
    return store_kit.create_stores(conf)['bench']


def make_boto3_client(store, threads):
    """A plain boto3 client configured like the store's own."""
    return boto3.client(
        's3', endpoint_url=store.endpoint_url, region_name='us-east-1',
        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
        config=botocore_config.Config(
            signature_version='s3v4', max_pool_connections=max(10,
                                                               threads + 4),
            s3={'addressing_style': 'path'},
            retries={'total_max_attempts': 5, 'mode': 'standard'}))


def run_ours(store, data, key):
    result = store.add(key, io.BytesIO(data), len(data))
    store.delete(result.url)


class HashingFile:
    """Hashes (md5 + sha512) what upload_fileobj reads, as a caller of
    boto3 that needs the image's checksums would."""

    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()

    def read(self, size=-1):
        block = self.fileobj.read(size)
        self.md5.update(block)
        self.sha512.update(block)
        return block


def run_boto3(client, data, key, part, threads, hashing=False):
    config = transfer.TransferConfig(multipart_threshold=part,
                                     multipart_chunksize=part,
                                     max_concurrency=threads,
                                     use_threads=True)
    source = io.BytesIO(data)
    if hashing:
        source = HashingFile(source)
    client.upload_fileobj(source, BUCKET, key, Config=config)
    client.delete_object(Bucket=BUCKET, Key=key)


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, *args):
    """(wall seconds, CPU seconds of this process, all threads)."""
    cpu, start = _cpu(), time.perf_counter()
    fn(*args)
    return time.perf_counter() - start, _cpu() - cpu


def peak(fn, *args):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _drain_only(worker):
    """A hash worker that takes blocks and hashes nothing (diagnostic)."""
    while worker.queue.get() is not worker._STOP:
        pass


def one_run(kind, data, part_mib, threads, server_in_process, measure):
    """Upload *data* once with *kind* ('ours', 'ours-nohash', 'boto3' or
    'boto3-hash') to a fresh server; return measure(fn, *args)."""
    port, stop = start_server(server_in_process)
    real_run = driver._HashWorker.run
    if kind == 'ours-nohash':
        driver._HashWorker.run = _drain_only
        kind = 'ours'
    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            store = make_store(port, part_mib, threads, tmpdir)
            run_ours(store, b'warm-up' * 1000, 'warm-up')      # bucket, pool
            if kind == 'ours':
                return measure(run_ours, store, data, 'image')
            client = make_boto3_client(store, threads)
            client.head_bucket(Bucket=BUCKET)
            return measure(run_boto3, client, data, 'image', part_mib * MiB,
                           threads, kind == 'boto3-hash')
    finally:
        driver._HashWorker.run = real_run
        stop()


def bench(size_mib=256, part_mib=10, threads=10, repeat=5,
          server_in_process=False, diagnose=False, out=print):
    """Run the comparison; return a dict of the figures."""
    size = size_mib * MiB
    data = os.urandom(size)
    times = {'ours': [], 'boto3': [], 'boto3-hash': []}
    if diagnose:
        times['ours-nohash'] = []
    for i in range(repeat):
        order = list(times) if i % 2 == 0 else list(times)[::-1]
        for kind in order:
            times[kind].append(one_run(kind, data, part_mib, threads,
                                       server_in_process, timed))
    mem = {kind: one_run(kind, data, part_mib, threads, server_in_process,
                         peak) for kind in ('ours', 'boto3', 'boto3-hash')}
    ours = sorted(wall for wall, _ in times['ours'])
    theirs = sorted(wall for wall, _ in times['boto3'])
    cpu_ours = median([cpu for _, cpu in times['ours']])
    cpu_theirs = median([cpu for _, cpu in times['boto3']])
    figures = {
        'size_mib': size_mib, 'part_mib': part_mib, 'threads': threads,
        'ours_mb_s': size / median(ours) / 1e6,
        'boto3_mb_s': size / median(theirs) / 1e6,
        'ours_best_mb_s': size / ours[0] / 1e6,
        'boto3_best_mb_s': size / theirs[0] / 1e6,
        'ours_peak_mib': mem['ours'] / MiB,
        'boto3_peak_mib': mem['boto3'] / MiB,
        'ours_cpu_s': cpu_ours, 'boto3_cpu_s': cpu_theirs,
        'ours_runs_s': times['ours'], 'boto3_runs_s': times['boto3'],
    }
    figures['ratio'] = figures['ours_mb_s'] / figures['boto3_mb_s']
    figures['best_ratio'] = (figures['ours_best_mb_s']
                             / figures['boto3_best_mb_s'])
    out('S3 multipart upload of %d MiB, %d MiB parts, %d threads, fresh moto '
        'server %s per run, %d runs each, interleaved'
        % (size_mib, part_mib, threads, 'in process' if server_in_process
           else 'in a child process', repeat))
    out('                                     median MB/s  best MB/s  '
        'peak MiB  client CPU s')
    out('  store_kit S3Store.add (md5+sha512)  %8.1f   %8.1f   %7.1f  %8.2f'
        % (figures['ours_mb_s'], figures['ours_best_mb_s'],
           figures['ours_peak_mib'], cpu_ours))
    out('  boto3 upload_fileobj (no hashing)   %8.1f   %8.1f   %7.1f  %8.2f'
        % (figures['boto3_mb_s'], figures['boto3_best_mb_s'],
           figures['boto3_peak_mib'], cpu_theirs))
    hashed = sorted(wall for wall, _ in times['boto3-hash'])
    figures['boto3_hash_mb_s'] = size / median(hashed) / 1e6
    figures['boto3_hash_peak_mib'] = mem['boto3-hash'] / MiB
    figures['boto3_hash_cpu_s'] = median([c for _, c in times['boto3-hash']])
    figures['ratio_vs_hashing'] = (figures['ours_mb_s']
                                   / figures['boto3_hash_mb_s'])
    out('  boto3 upload_fileobj + md5+sha512  %8.1f   %8.1f   %7.1f  %8.2f'
        % (figures['boto3_hash_mb_s'], size / hashed[0] / 1e6,
           figures['boto3_hash_peak_mib'], figures['boto3_hash_cpu_s']))
    if diagnose:
        nohash = sorted(wall for wall, _ in times['ours-nohash'])
        figures['nohash_mb_s'] = size / median(nohash) / 1e6
        figures['nohash_cpu_s'] = median(
            [cpu for _, cpu in times['ours-nohash']])
        out('  diagnostic: add(), hashing stubbed %8.1f   %8.1f        -  '
            '%8.2f' % (figures['nohash_mb_s'], size / nohash[0] / 1e6,
                       figures['nohash_cpu_s']))
    out('  ratio ours/boto3: median %.2f, best %.2f (goal >= 0.90); '
        'ours/(boto3 + the same hashing): median %.2f'
        % (figures['ratio'], figures['best_ratio'],
           figures['ratio_vs_hashing']))
    out('  peak = tracemalloc peak of Python allocations during one more, '
        'untimed upload')
    out('  client CPU s = median user+sys of this process per upload (the '
        'server runs elsewhere unless --server-in-process)')
    out('  runs (wall s): ours %s | boto3 %s' % (
        ' '.join('%.2f' % t for t, _ in times['ours']),
        ' '.join('%.2f' % t for t, _ in times['boto3'])))
    return figures


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size-mib', type=int, default=256)
    parser.add_argument('--part-mib', type=int, default=10)
    parser.add_argument('--threads', type=int, default=10)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--server-in-process', action='store_true')
    parser.add_argument('--diagnose', action='store_true',
                        help='also time add() with md5/sha512 stubbed out, '
                             'to show what the hashing costs')
    args = parser.parse_args(argv)
    bench(args.size_mib, args.part_mib, args.threads, args.repeat,
          args.server_in_process, args.diagnose)


if __name__ == '__main__':
    main()
