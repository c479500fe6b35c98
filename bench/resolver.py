"""Resolve rate and correctness: store_kit's prefix index beside the
incumbent rule (the first store, in config order, whose prefix is a raw
string prefix of the URL), at several store counts.

    python bench/resolver.py [--sizes 10,1000,10000] [--urls 200000]

Each resolver is timed on a first pass over the corpus (store_kit's memo of
directory walks empty: with 10,000 stores and six spellings per prefix a
quarter of the lookups walk a new directory) and at steady state (the best
of the next passes).

The corpus has bucket and directory names that share prefixes
(pool1/pool10/pool100), legacy s3 URLs with rotated credentials, case and
default-port variants, and URLs no store owns.  Every URL's right answer is
known by construction; both resolvers are scored against it.
"""

import argparse
import random
import sys
import time
import types

# the repository instead of bench/ (whose copy.py would shadow the stdlib module)
sys.path[0] = __file__.rsplit('/bench/', 1)[0]

from store_kit.registry import StoreRegistry  # noqa: E402

S3_HOSTS = ['s3.example.com', 'minio.local:9000', 'ceph.lan:7480']
CDN_HOSTS = ['cdn.example.com', 'mirror.example.org']
ACCESS, SECRET = 'AKIACURRENT', 'cur/rent+secret'
OLD_CREDS = ['AKIAOLD:old/se+cret:x', 'AKIAOLDER:older']


def make_stores(n):
    """n stores: a third file, a third s3, a third http, names pool<i>."""
    stores = {}
    for i in range(n):
        kind = i % 3
        name = 'pool%d' % i
        if kind == 0:
            prefix = 'file:///srv/images/pool%d' % i
            incumbent = prefix
            driver = 'file'
        elif kind == 1:
            host = S3_HOSTS[i % len(S3_HOSTS)]
            prefix = 's3://%s/pool%d' % (host, i)
            incumbent = 's3://%s:%s@%s/pool%d' % (ACCESS, SECRET, host, i)
            driver = 's3'
        else:
            host = CDN_HOSTS[i % len(CDN_HOSTS)]
            prefix = 'https://%s/pool%d' % (host, i)
            incumbent = 'http'            # glance: every http store is "http"
            driver = 'http'
        stores[name] = types.SimpleNamespace(
            name=name, driver_name=driver, url_prefixes=[prefix],
            location_class=None, incumbent_prefix=incumbent)
    return stores


def corpus(stores, count, rng):
    """[(url, expected store name or None)]."""
    names = list(stores)
    out = []
    while len(out) < count:
        name = rng.choice(names)
        store = stores[name]
        prefix = store.url_prefixes[0]
        image = '%08x-1111-2222-3333-%012x' % (rng.getrandbits(32),
                                               rng.getrandbits(48))
        variant = rng.randrange(6)
        scheme, rest = prefix.split('://', 1)
        host, _, path = rest.partition('/')
        if variant == 1:                               # case
            scheme, host = scheme.upper(), host.upper()
        elif variant == 2 and ':' not in host and host:  # default port
            host += ':443'
        elif variant == 3 and store.driver_name == 's3':  # credentials
            creds = rng.choice(OLD_CREDS + ['%s:%s' % (ACCESS, SECRET)])
            host = '%s@%s' % (creds, host)
        elif variant == 3 and store.driver_name == 'file':
            scheme = 'filesystem'
        elif variant == 4:                             # path spelling
            path = path.replace('/', '//') + '/.'
        url = '%s://%s/%s/%s' % (scheme, host, path, image)
        expected = name
        if variant == 5:                               # a sibling nobody owns
            url = '%s://%s/%s999x/%s' % (scheme, host, path, image)
            expected = None
        out.append((url, expected))
    return out


def incumbent_resolver(stores):
    ordered = [(s.incumbent_prefix, name) for name, s in stores.items()]

    def resolve(url):
        for prefix, name in ordered:
            if url.startswith(prefix):
                return name
        return None
    return resolve


def run(resolve, urls, min_seconds=0.5, passes=3):
    """(first-pass lookups per second, steady lookups per second, answers).

    The first pass over the corpus starts with nothing remembered (a cold
    memo: every directory spelling is walked once); the steady figure is
    the best of the next *passes* passes (at least *min_seconds* in all),
    what a long job over many URLs per directory sees.
    """
    start = time.perf_counter()
    answers = [resolve(u) for u in urls]
    first = len(urls) / (time.perf_counter() - start)
    best = 0.0
    spent = 0.0
    done = 0
    while done < passes or spent < min_seconds:
        start = time.perf_counter()
        for u in urls:
            resolve(u)
        elapsed = time.perf_counter() - start
        spent += elapsed
        done += 1
        best = max(best, len(urls) / elapsed)
    return first, best, answers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='10,1000,10000')
    parser.add_argument('--urls', type=int, default=200000)
    parser.add_argument('--incumbent-urls', type=int, default=20000,
                        help='corpus size for the incumbent (it is slow at '
                             'large store counts)')
    parser.add_argument('--seed', type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print('%8s  %-10s %14s %14s %8s %8s'
          % ('stores', 'resolver', 'first pass/s', 'steady/s', 'wrong', 'of'))
    for n in [int(x) for x in args.sizes.split(',')]:
        stores = make_stores(n)
        registry = StoreRegistry(stores, 'pool0')
        urls = corpus(stores, args.urls, rng)
        plain = [u for u, _ in urls]
        first, rate, answers = run(registry.resolve, plain)
        wrong = sum(a != e for a, (_, e) in zip(answers, urls))
        print('%8d  %-10s %14.0f %14.0f %8d %8d' % (n, 'store_kit', first, rate, wrong,
                                                    len(urls)))
        sample = urls[:args.incumbent_urls]
        first_i, rate_i, answers_i = run(incumbent_resolver(stores),
                                         [u for u, _ in sample], passes=1)
        wrong_i = sum(a != e for a, (_, e) in zip(answers_i, sample))
        print('%8d  %-10s %14.0f %14.0f %8d %8d' % (n, 'incumbent', first_i, rate_i,
                                                    wrong_i, len(sample)))
        print('%8s  ratio %.1fx (first pass %.1fx)' % ('', rate / rate_i, first / first_i))


if __name__ == '__main__':
    main()
