"""`store-kit glance import` against one image at a time through the
Catalog's public per-image API, on a glance database of 100,000 images.

    python bench/glance_import.py                        # 100,000 images, SQLite
    python bench/glance_import.py --engine postgresql
    python bench/glance_import.py --images 20000 --sample 500

glance's schema is made by ``glance-manage db_sync``; rows are inserted
straight into it: per image 5 properties, 2 tags, 2 locations (one
recording its store, one legacy, over 4 file stores ``pool0`` ..
``pool3``), one image in four shared with 2 members, one in fifty
soft-deleted (left out, as the command does without ``--include-deleted``).
The store_kit catalog is on the same engine, created empty.

* baseline, first, on ``--sample`` images into a catalog of its own: the
  same glance pages read with the importer's reader, then each image
  written through the public API (``image_create`` with its properties,
  tags and locations, the store recorded by the resolver;
  ``image_member_create`` per member and ``image_member_update`` for its
  status), one transaction per call, as a script over the public API
  would;
* bulk: the ``store-kit --config-file glance-api.conf glance import --to
  URL`` command, a process of its own (start-up included in its time; its
  peak RSS reported), then its row counts checked against what was
  inserted.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT           # not bench/: bench/copy.py would shadow the stdlib

import sqlalchemy as sa  # noqa: E402

from tests.catalog import databases  # noqa: E402
from tests.glance import glancedb  # noqa: E402

STORES = ['pool%d' % i for i in range(4)]
PROPS, TAGS, LOCS, MEMBERS = 5, 2, 2, 2


def conf_text(root, db_url):
    lines = ['[DEFAULT]', 'enabled_backends = %s'
             % ', '.join('%s:store_kit_file' % s for s in STORES),
             '[database]', 'connection = %s' % db_url,
             '[glance_store]', 'default_backend = pool0']
    for s in STORES:
        lines += ['[%s]' % s, 'filesystem_store_datadir = %s/%s' % (root, s)]
    return '\n'.join(lines) + '\n'


def image_id(i):
    return '%08x-0000-4000-8000-%012x' % (i, i)


def shared(i):
    return i % 4 == 1


def deleted(i):
    return i % 50 == 7


def populate(db_url, root, n):
    eng = glancedb.engine(db_url)
    meta = sa.MetaData()
    meta.reflect(eng, only=('images', 'image_properties', 'image_tags', 'image_members',
                            'image_locations'))
    t = meta.tables
    when = glancedb.now()
    step = 5000
    with eng.begin() as conn:
        for start in range(0, n, step):
            rows = {name: [] for name in t}
            for i in range(start, min(n, start + step)):
                iid = image_id(i)
                img = glancedb.image_row(iid, 1024 + i, when=when)
                img.update(owner='project-%d' % (i % 97), checksum='%032x' % i,
                           os_hash_algo='sha512', os_hash_value='%0128x' % i,
                           visibility='shared' if shared(i) else 'public',
                           deleted=deleted(i), deleted_at=when if deleted(i) else None,
                           status='deleted' if deleted(i) else 'active')
                rows['images'].append(img)
                common = {'image_id': iid, 'created_at': when, 'updated_at': when,
                          'deleted': False, 'deleted_at': None}
                rows['image_properties'] += [dict(common, name='prop_%d' % k,
                                                  value='value %d of %d' % (k, i))
                                             for k in range(PROPS)]
                rows['image_tags'] += [dict(common, value='tag-%d' % ((i + k) % 50))
                                       for k in range(TAGS)]
                if shared(i):
                    rows['image_members'] += [dict(common, member='member-%d' % k,
                                                   can_share=False, status='accepted')
                                              for k in range(MEMBERS)]
                for k in range(LOCS):
                    store = STORES[(i + k) % len(STORES)]
                    rows['image_locations'].append(dict(
                        common, value='file://%s/%s/%s-%d' % (root, store, iid, k),
                        meta_data=json.dumps({'store': store}) if k == 0 else '{}',
                        status='active'))
            for name in ('images', 'image_properties', 'image_tags', 'image_members',
                         'image_locations'):
                if rows[name]:
                    conn.execute(t[name].insert(), rows[name])
    with eng.begin() as conn:           # a live database has planner statistics
        conn.exec_driver_sql('ANALYZE')
    eng.dispose()


def expected_counts(n, first=0):
    live = [i for i in range(first, n) if not deleted(i)]
    return {'images': len(live), 'properties': PROPS * len(live), 'tags': TAGS * len(live),
            'members': MEMBERS * sum(1 for i in live if shared(i)),
            'locations': LOCS * len(live)}


def catalog_counts(url):
    from store_kit.catalog import Catalog, models
    db = Catalog(url)
    try:
        with db.engine.connect() as conn:
            return {name: conn.execute(sa.select(sa.func.count()).select_from(
                models.metadata.tables[name])).scalar()
                for name in ('images', 'properties', 'tags', 'members', 'locations')}
    finally:
        db.dispose()


def baseline(conf_path, db_url, catalog_url, sample):
    """Seconds to write the first *sample* live images through the public
    per-image API, and how many images that was."""
    from oslo_config import cfg
    import store_kit
    from store_kit.catalog import Catalog
    from store_kit.context import RequestContext
    from store_kit.glance import database, importer
    conf = cfg.ConfigOpts()
    store_kit.register_opts(conf)
    conf(['--config-file', conf_path], project='store-kit', default_config_files=[],
         default_config_dirs=[])
    registry = store_kit.create_stores(conf)
    gdb = database.GlanceDatabase(db_url)
    db = Catalog(catalog_url, resolver=registry)
    db.create_schema()
    admin = RequestContext(project_id='admin', is_admin=True)
    translate = importer._Translator(registry, STORES, False)
    report = importer.ImportReport()
    done, secs = 0, 0.0
    for rows, children in importer.image_pages(gdb, 500):
        images, _, _, _ = translate.page(rows, children, report)
        t = time.perf_counter()
        for image in images[:sample - done]:
            values = {k: image[k] for k in (
                'id', 'name', 'status', 'visibility', 'owner', 'size', 'virtual_size',
                'checksum', 'os_hash_algo', 'os_hash_value', 'disk_format',
                'container_format', 'min_disk', 'min_ram', 'protected', 'os_hidden',
                'created_at', 'updated_at')}
            values['properties'] = {p['name']: p['value'] for p in image['properties']}
            values['tags'] = [tag['value'] for tag in image['tags']]
            values['locations'] = [{'url': loc['url'], 'metadata': loc['metadata'],
                                    'status': loc['status']} for loc in image['locations']]
            db.image_create(admin, values)
            for m in image['members']:
                record = db.image_member_create(admin, {
                    'image_id': image['id'], 'member': m['member'],
                    'can_share': m['can_share']})
                db.image_member_update(admin, record['id'], {'status': m['status']})
        secs += time.perf_counter() - t
        done = min(sample, done + len(images))
        if done >= sample:
            break
    gdb.dispose()
    db.dispose()
    registry.close()
    return secs, done


def run_in(work):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--engine', default='sqlite', choices=('sqlite', 'postgresql'))
    parser.add_argument('--images', type=int, default=100000)
    parser.add_argument('--sample', type=int, default=1000, help='images for the baseline')
    parser.add_argument('--batch-size', type=int, default=1000)
    args = parser.parse_args()

    root = os.path.join(work, 'data')
    db_url = glancedb.create(args.engine, work)
    base_url = databases.create_database(args.engine, os.path.join(work, 'base'))
    bulk_url = databases.create_database(args.engine, os.path.join(work, 'bulk'))
    try:
        conf_path = os.path.join(work, 'glance-api.conf')
        with open(conf_path, 'w') as f:
            f.write(conf_text(root, db_url))
        t = time.perf_counter()
        populate(db_url, root, args.images)
        print('populated %d images in %.1f s' % (args.images, time.perf_counter() - t),
              file=sys.stderr)

        base_secs, base_n = baseline(conf_path, db_url, base_url, args.sample)
        base_rate = base_n / base_secs

        env = dict(os.environ, PYTHONPATH=ROOT, STORE_KIT_HOME=os.path.join(work, 'sk'))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, '-m', 'store_kit.cli', '--config-file',
                              conf_path, 'glance', 'import', '--to', bulk_url,
                              '--batch-size', str(args.batch_size), '--format', 'json'],
                             env=env, check=True, capture_output=True).stdout
        bulk_secs = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss = after.ru_maxrss / 1024
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        summary = json.loads(out)
        imported = summary['images']['imported']
        bulk_rate = imported / bulk_secs
        got, want = catalog_counts(bulk_url), expected_counts(args.images)
        rows = sum(got.values())

        print('glance import, %s, %d glance images (%d live: %d properties, %d tags, '
              '%d members, %d locations)'
              % (args.engine, args.images, want['images'], want['properties'], want['tags'],
                 want['members'], want['locations']))
        print('| run | images | seconds | images/s | rows/s |')
        print('|---|---|---|---|---|')
        print('| public per-image API, one image at a time | %d | %.1f | %s | %s |'
              % (base_n, base_secs, format(int(base_rate), ','),
                 format(int(base_rate * rows / want['images']), ',')))
        print('| store-kit glance import | %d | %.1f | %s | %s |'
              % (imported, bulk_secs, format(int(bulk_rate), ','),
                 format(int(rows / bulk_secs), ',')))
        print('speed-up %.0f×; baseline for all %d images: %.0f s (%.1f min); bulk peak RSS '
              '%.0f MiB, CPU %.1f s (its own process)'
              % (bulk_rate / base_rate, want['images'], want['images'] / base_rate,
                 want['images'] / base_rate / 60, rss, cpu))
        print('rows in the catalog %s expected: %s' % ('==' if got == want else '!=', got))
        print('load average at the end: %.1f %.1f %.1f' % os.getloadavg())
        if got != want:
            sys.exit(1)
    finally:
        for url in (db_url, base_url, bulk_url):
            databases.drop_database(args.engine, url)


def main():
    with tempfile.TemporaryDirectory(prefix='bench-glance-import-') as work:
        run_in(work)


if __name__ == '__main__':
    main()
