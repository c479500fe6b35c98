"""`store-kit glance backfill` against glance's own backfill on GET, on a
glance database of legacy locations.

    python bench/glance_backfill.py                       # 1,000,000 rows, SQLite
    python bench/glance_backfill.py --engine postgresql
    python bench/glance_backfill.py --rows 100000 --sample 500

glance's schema is made by ``glance-manage db_sync``; the rows are an
upgraded deployment's: ``--per-image`` locations per image, none with
``meta_data['store']``, over 11 file stores ``pool0`` .. ``pool10`` (so
``pool1`` and ``pool10`` share a prefix) and one row in ten an rbd URL no
store_kit store owns.  Then, with the same glance-api.conf (stores of type
``store_kit_file``):

* baseline, first, on ``--sample`` images: what glance does on ``GET
  /v2/images/{id}``, with glance's own code in a child process: its
  ``ImageRepo`` under ``glance.location.ImageRepoProxy``, whose ``get()``
  loads the image, fills the missing stores
  (``store_utils.update_store_in_locations``) and saves it, one image (one
  transaction) at a time;
* bulk: the ``store-kit --config-file glance-api.conf glance backfill``
  command, a process of its own (start-up included in its time; its peak
  RSS reported).

Both runs' results are checked against the store each row was built for.
"""

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT           # not bench/: bench/copy.py would shadow the stdlib

from tests.glance import glancedb  # noqa: E402

STORES = ['pool%d' % i for i in range(11)]


def conf_text(root, db_url):
    lines = ['[DEFAULT]', 'enabled_backends = %s, ceph:rbd'
             % ', '.join('%s:store_kit_file' % s for s in STORES),
             '[database]', 'connection = %s' % db_url,
             '[glance_store]', 'default_backend = pool0']
    for s in STORES:
        lines += ['[%s]' % s, 'filesystem_store_datadir = %s/%s' % (root, s)]
    lines += ['[ceph]', 'rbd_store_pool = images',
              '[os_glance_staging_store]', 'filesystem_store_datadir = %s/staging' % root,
              '[os_glance_tasks_store]', 'filesystem_store_datadir = %s/tasks' % root]
    return '\n'.join(lines) + '\n'


def image_id(i):
    return '%08x-0000-4000-8000-%012x' % (i, i)


def expected(k):
    """Store of location number *k* (None: an rbd URL nobody owns)."""
    return None if k % 10 == 9 else STORES[k % len(STORES)]


def populate(db_url, root, n_rows, per_image):
    eng = glancedb.engine(db_url)
    when = glancedb.now()
    step = 20000
    n_images = n_rows // per_image
    with eng.begin() as conn:
        images_t, locations_t = glancedb.tables(conn)
        for start in range(0, n_images, step):
            images, locs = [], []
            for i in range(start, min(n_images, start + step)):
                iid = image_id(i)
                images.append(glancedb.image_row(iid, 1, when=when))
                for j in range(per_image):
                    k = i * per_image + j
                    store = expected(k)
                    url = ('rbd://fsid/images/%s-%d/snap' % (iid, j) if store is None
                           else 'file://%s/%s/%s-%d' % (root, store, iid, j))
                    locs.append(glancedb.location_row(iid, url, {}, when=when))
            conn.execute(images_t.insert(), images)
            conn.execute(locations_t.insert(), locs)
    with eng.begin() as conn:           # a live database has planner statistics
        conn.exec_driver_sql('ANALYZE')
    eng.dispose()


def baseline_worker(conf_path, ids, queue):
    """glance's GET path for each image id, in this (child) process."""
    import logging
    logging.getLogger('glance').setLevel(logging.ERROR)    # "Invalid location uri"
    from oslo_config import cfg
    import glance_store
    from glance.common import config as glance_config  # noqa: F401 (options)
    from glance.common import store_utils
    import glance.context
    import glance.db
    import glance.location
    conf = cfg.CONF
    conf(['--config-file', conf_path], project='glance', default_config_files=[])
    reserved = {'os_glance_staging_store': 'file', 'os_glance_tasks_store': 'file'}
    glance_store.register_store_opts(conf, reserved_stores=reserved)
    glance_store.create_multi_stores(conf, reserved_stores=reserved)
    ctx = glance.context.RequestContext(user_id='bench', project_id='admin',
                                        roles=['admin'], is_admin=True)
    repo = glance.location.ImageRepoProxy(glance.db.ImageRepo(ctx, glance.db.get_api()),
                                          ctx, glance_store, store_utils)
    repo.get(ids[0])                            # warm up (engine, mappers)
    t = time.perf_counter()
    for iid in ids[1:]:
        repo.get(iid)
    queue.put(time.perf_counter() - t)


def stores_of(db_url, ids=None):
    """``{location url: store or None}`` (of *ids*' images, or all)."""
    eng = glancedb.engine(db_url)
    out = {}
    with eng.connect() as conn:
        sql = 'SELECT image_id, value, meta_data FROM image_locations'
        for iid, url, meta in conn.exec_driver_sql(sql):
            if ids is None or iid in ids:
                out[url] = json.loads(meta or '{}').get('store')
    eng.dispose()
    return out


def wrong_count(found, root, per_image):
    wrong = 0
    for url, store in found.items():
        iid, j = url.rsplit('/', 2)[-2 if url.startswith('rbd') else -1].rsplit('-', 1)
        k = int(iid.split('-')[0], 16) * per_image + int(j)
        wrong += store != expected(k)
    return wrong


def run_in(work):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--engine', default='sqlite', choices=('sqlite', 'postgresql'))
    parser.add_argument('--rows', type=int, default=1000000)
    parser.add_argument('--per-image', type=int, default=2)
    parser.add_argument('--sample', type=int, default=2000, help='images for the baseline')
    args = parser.parse_args()

    root = os.path.join(work, 'data')
    db_url = glancedb.create(args.engine, work)
    try:
        conf_path = os.path.join(work, 'glance-api.conf')
        with open(conf_path, 'w') as f:
            f.write(conf_text(root, db_url))
        t = time.perf_counter()
        populate(db_url, root, args.rows, args.per_image)
        print('populated %d rows in %.1f s' % (args.rows, time.perf_counter() - t),
              file=sys.stderr)

        n_images = args.rows // args.per_image
        step = max(1, n_images // (args.sample + 1))
        ids = [image_id(i) for i in range(0, n_images, step)][:args.sample + 1]
        ctx = multiprocessing.get_context('spawn')
        queue = ctx.Queue()
        proc = ctx.Process(target=baseline_worker, args=(conf_path, ids, queue))
        proc.start()
        base_secs = queue.get()
        proc.join()
        base_found = stores_of(db_url, set(ids))
        base_rows = (len(ids) - 1) * args.per_image
        base_rate = base_rows / base_secs

        env = dict(os.environ, PYTHONPATH=ROOT, STORE_KIT_HOME=os.path.join(work, 'sk'))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, '-m', 'store_kit.cli', '--config-file',
                              conf_path, 'glance', 'backfill', '--format', 'json'],
                             env=env, check=True, capture_output=True).stdout
        bulk_secs = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss = after.ru_maxrss / 1024
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        summary = json.loads(out)
        found = stores_of(db_url)
        wrong = wrong_count(found, root, args.per_image)
        bulk_rate = summary['scanned'] / bulk_secs

        # The engine's ceiling: one UPDATE rewriting every row the bulk run
        # wrote, in one transaction (no reading, no resolving, no batches).
        eng = glancedb.engine(db_url)
        t = time.perf_counter()
        with eng.begin() as conn:
            ceiling_rows = conn.exec_driver_sql(
                "UPDATE image_locations SET meta_data = meta_data || ' ', updated_at = updated_at "
                "WHERE meta_data != '{}' AND status != 'deleted'").rowcount
        ceiling = ceiling_rows / (time.perf_counter() - t)
        eng.dispose()

        print('glance backfill, %s, %d legacy rows (%d per image, 11 file stores, '
              'one in ten rbd)' % (args.engine, args.rows, args.per_image))
        print('| run | rows | seconds | rows/s | wrong store |')
        print('|---|---|---|---|---|')
        print('| glance GET path, one image at a time | %d (%d images) | %.1f | %s | %d |'
              % (base_rows, len(ids) - 1, base_secs, format(int(base_rate), ','),
                 wrong_count(base_found, root, args.per_image)))
        print('| store-kit glance backfill | %d scanned, %d written, %d unresolved | %.1f '
              '| %s | %d |' % (summary['scanned'], summary['resolved'], summary['unresolved'],
                               bulk_secs, format(int(bulk_rate), ','), wrong))
        print('speed-up %.0f×; bulk peak RSS %.0f MiB, CPU %.1f s (its own process)'
              % (bulk_rate / base_rate, rss, cpu))
        print('engine ceiling (one UPDATE rewriting the %d written rows): %s rows/s; the '
              'bulk run writes at %s rows/s' % (ceiling_rows, format(int(ceiling), ','),
                                                format(int(summary['resolved'] / bulk_secs), ',')))
        print('load average at the end: %.1f %.1f %.1f' % os.getloadavg())
    finally:
        glancedb.drop(args.engine, db_url)


def main():
    with tempfile.TemporaryDirectory(prefix='bench-glance-backfill-') as work:
        run_in(work)


if __name__ == '__main__':
    main()
