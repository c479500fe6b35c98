"""Data path throughput: the file store's add() with md5 + sha512, beside
a one-thread baseline and beside the machine's hashing limit, all measured
on the same bytes in the same run.

    python bench/data_path.py [--size-mib 1024] [--repeat 2] [--s3]

- baseline: read a block, md5 it, sha512 it, write it, in one thread;
- limit: the slower of the two hashes alone over the same bytes (nothing can
  add faster than it can hash);
- store_kit: FileStore.add() with fsync off, then with fsync on.
With --s3 it also runs bench/s3_upload.py's comparison against moto.
"""

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time

# the repository instead of bench/ (whose copy.py would shadow the stdlib module)
sys.path[0] = __file__.rsplit('/bench/', 1)[0]

from oslo_config import cfg  # noqa: E402

import store_kit  # noqa: E402

BLOCK = 1 << 20


def make_source(path, size):
    with open(path, 'wb') as f:
        chunk = os.urandom(64 << 20)
        left = size
        while left > 0:
            f.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)


def warm(path):
    with open(path, 'rb') as f:
        while f.read(16 << 20):
            pass


def baseline(src, dst):
    md5, sha = hashlib.md5(), hashlib.sha512()
    with open(src, 'rb') as fin, open(dst, 'wb') as fout:
        while True:
            block = fin.read(BLOCK)
            if not block:
                break
            md5.update(block)
            sha.update(block)
            fout.write(block)
    return md5.hexdigest(), sha.hexdigest()


def hash_alone(src, algo):
    h = hashlib.new(algo)
    with open(src, 'rb') as fin:
        while True:
            block = fin.read(BLOCK)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def make_store(workdir, fsync):
    conf_path = os.path.join(workdir, 'bench-%s.conf' % fsync)
    with open(conf_path, 'w') as f:
        f.write('[DEFAULT]\nenabled_backends = fs:file\n'
                '[store_kit]\ndefault_backend = fs\n'
                '[fs]\nfilesystem_store_datadir = %s/store-%s\n'
                'filesystem_store_fsync = %s\n' % (workdir, fsync, fsync))
    conf = cfg.ConfigOpts()
    store_kit.register_opts(conf)
    conf(['--config-file', conf_path], default_config_files=[])
    return store_kit.create_stores(conf)['fs']


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--repeat', type=int, default=2,
                        help='runs of each; the best is reported')
    parser.add_argument('--dir', default=None,
                        help='work directory (default: a temp dir)')
    parser.add_argument('--s3', action='store_true',
                        help='also run the S3 multipart comparison')
    args = parser.parse_args()
    size = args.size_mib << 20
    workdir = tempfile.mkdtemp(prefix='sk-bench-', dir=args.dir)
    try:
        src = os.path.join(workdir, 'source')
        make_source(src, size)
        warm(src)
        results = {}
        expect = None
        stores = {fs: make_store(workdir, fs) for fs in (False, True)}
        for run in range(args.repeat):
            for name in ('baseline', 'md5 alone', 'sha512 alone',
                         'store_kit fsync=off', 'store_kit fsync=on'):
                dst = os.path.join(workdir, 'out')
                if name == 'baseline':
                    t, digests = timed(baseline, src, dst)
                    expect = digests
                elif name.endswith('alone'):
                    t, _ = timed(hash_alone, src, name.split()[0])
                else:
                    store = stores[name.endswith('on')]
                    with open(src, 'rb') as f:
                        t, res = timed(store.add, 'img-%d' % run, f, size,
                                       'sha512')
                    assert (res.checksum, res.multihash) == expect, name
                    store.delete(res.url)
                if os.path.exists(dst):
                    os.unlink(dst)
                results[name] = min(t, results.get(name, t))
        limit = max(results['md5 alone'], results['sha512 alone'])
        mib = size / float(1 << 20)
        print('file store add of %d MiB, md5 + sha512, best of %d'
              % (args.size_mib, args.repeat))
        print('%-22s %9s %10s %11s %10s' % ('', 'seconds', 'MiB/s',
                                            'x baseline', '% of limit'))
        for name, t in results.items():
            print('%-22s %9.2f %10.0f %11.2f %9.0f%%'
                  % (name, t, mib / t, results['baseline'] / t,
                     100.0 * limit / t))
        print('limit = the slower hash alone: %.0f MiB/s' % (mib / limit))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.s3:
        import s3_upload
        s3_upload.main([])


if __name__ == '__main__':
    main()
