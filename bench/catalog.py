"""Catalog benchmark: listing, keyset vs OFFSET, get, member create, dependencies.

Builds a catalog of N images (4 properties, 2 tags, 2 locations each; shared
images have 2 members) with bulk inserts, then times the public Catalog API
and prints p50/p95 per engine. The OFFSET baseline fetches the same deep page
as the keyset marker page, in the same process, for comparison.

    python bench/catalog.py --images 100000 --engines sqlite,postgresql,mariadb

``--listing`` instead times one page for every sort key (asc/desc, with and
without a marker, admin and project caller) on the schema before migration
0005 (baseline) and at head, in the same process on the same data.

Server databases are created fresh (random name) and dropped afterwards.
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import tempfile
import time
import uuid

# the repository instead of bench/ (whose copy.py would shadow the stdlib module)
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import sqlalchemy as sa  # noqa: E402

from store_kit.catalog import Catalog, filters as filtering, models, visibility  # noqa: E402
from store_kit.context import RequestContext  # noqa: E402
from store_kit.location import url_key  # noqa: E402

SERVERS = {
    'postgresql': 'postgresql+psycopg://postgres@127.0.0.1:5432/%s',
    'mariadb': 'mysql+pymysql://root@127.0.0.1:3306/%s?charset=utf8mb4',
}
ADMIN_DB = {'postgresql': 'postgres', 'mariadb': 'mysql'}
DISTROS = ['ubuntu', 'debian', 'centos', 'fedora', 'rocky', 'alma', 'suse', 'arch',
           'alpine', 'cirros']
TAGS = ['tag%02d' % i for i in range(20)]
PROJECTS = ['p%02d' % i for i in range(100)]
T0 = datetime.datetime(2024, 1, 1)
BATCH = 5000


# -- databases -------------------------------------------------------------

def create_database(engine_name, tmp):
    name = 'store_kit_bench_%s' % uuid.uuid4().hex[:10]
    if engine_name == 'sqlite':
        return 'sqlite:///%s' % os.path.join(tmp, name + '.db')
    admin = sa.create_engine(SERVERS[engine_name] % ADMIN_DB[engine_name],
                             isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.exec_driver_sql('CREATE DATABASE %s' % name)
    admin.dispose()
    return SERVERS[engine_name] % name


def drop_database(engine_name, url):
    if engine_name == 'sqlite':
        return
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(SERVERS[engine_name] % ADMIN_DB[engine_name],
                             isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.exec_driver_sql('DROP DATABASE IF EXISTS %s' % name)
    admin.dispose()


# -- building the catalog --------------------------------------------------

def image_id(i):
    return str(uuid.UUID(int=i + 1))


def build(db, n_images, chain_len, seed=1):
    """Bulk-insert the catalog; returns the ids of the dependency chain."""
    rng = random.Random(seed)
    vrng = random.Random(seed + 1)    # half the virtual sizes are unknown (NULL)
    vis_choices = ['private'] * 40 + ['shared'] * 30 + ['public'] * 25 + ['community'] * 5
    chain_len = min(chain_len, n_images)
    step = max(1, n_images // max(1, chain_len))     # chain images spread over time
    with db.engine.begin() as conn:
        for start in range(0, n_images, BATCH):
            imgs, props, tags, locs, mems = [], [], [], [], []
            for i in range(start, min(n_images, start + BATCH)):
                iid = image_id(i)
                in_chain = i % step == 0 and i // step < chain_len
                vis = 'private' if in_chain else rng.choice(vis_choices)
                owner = 'chain' if in_chain else rng.choice(PROJECTS)
                ts = T0 + datetime.timedelta(seconds=i)
                imgs.append({
                    'id': iid, 'name': 'image-%06d' % rng.randrange(n_images),
                    'status': 'active', 'visibility': vis, 'owner': owner,
                    'size': rng.randrange(1, 10 ** 10),
                    'virtual_size': vrng.randrange(1, 10 ** 11) if i % 2 else None,
                    'checksum': '%032x' % rng.getrandbits(128), 'os_hash_algo': 'sha512',
                    'os_hash_value': '%0128x' % rng.getrandbits(512),
                    'disk_format': rng.choice(['qcow2', 'raw', 'vmdk']),
                    'container_format': 'bare', 'min_disk': rng.randrange(40),
                    'min_ram': rng.choice([0, 512, 1024, 2048]), 'protected': False,
                    'os_hidden': False, 'created_at': ts, 'updated_at': ts,
                    'deleted_at': None, 'deleted': False})
                for name, value in (('os_distro', rng.choice(DISTROS)),
                                    ('os_version', str(rng.randrange(30))),
                                    ('architecture', rng.choice(['x86_64', 'aarch64'])),
                                    ('hw_disk_bus', rng.choice(['virtio', 'scsi']))):
                    props.append({'image_id': iid, 'name': name, 'value': value,
                                  'created_at': ts, 'updated_at': ts, 'deleted': False})
                for tag in rng.sample(TAGS, 2):
                    tags.append({'image_id': iid, 'value': tag, 'created_at': ts,
                                 'updated_at': ts, 'deleted': False})
                for store in ('fast', 'cold'):
                    url_ = 'file:///%s/%s' % (store, iid)
                    locs.append({'image_id': iid, 'url': url_, 'url_key': url_key(url_),
                                 'meta_data': {'store': store}, 'status': 'active',
                                 'created_at': ts, 'updated_at': ts, 'attempts': 0})
                if vis == 'shared':
                    for member in rng.sample([p for p in PROJECTS if p != owner], 2):
                        mems.append({'image_id': iid, 'member': member, 'can_share': False,
                                     'status': rng.choice(['accepted', 'accepted', 'pending']),
                                     'created_at': ts, 'updated_at': ts, 'deleted': False})
            conn.execute(models.images.insert(), imgs)
            conn.execute(models.properties.insert(), props)
            conn.execute(models.tags.insert(), tags)
            conn.execute(models.locations.insert(), locs)
            if mems:
                conn.execute(models.members.insert(), mems)
        chain = [image_id(i * step) for i in range(chain_len)]
        edges = [{'source_id': a, 'target_id': b, 'created_at': T0}
                 for a, b in zip(chain, chain[1:])]
        for start in range(0, len(edges), BATCH):
            conn.execute(models.dependencies.insert(), edges[start:start + BATCH])
    analyze(db)
    return chain


def analyze(db):
    """Fresh planner statistics."""
    if db.dialect == 'postgresql':
        with db.engine.connect().execution_options(isolation_level='AUTOCOMMIT') as conn:
            conn.exec_driver_sql('VACUUM ANALYZE')
    elif db.dialect == 'sqlite':
        with db.engine.connect() as conn:
            conn.exec_driver_sql('ANALYZE')
    else:
        with db.engine.connect() as conn:
            for table in models.metadata.sorted_tables:
                conn.exec_driver_sql('ANALYZE TABLE %s' % table.name).all()


# -- timing ----------------------------------------------------------------

def timed(fn, samples, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def offset_page(db, ctx, filters, spec, offset, limit):
    """The baseline: the same listing, paged with OFFSET instead of a marker."""
    where = filtering.filter_clauses(filters) + [
        filtering.deleted_clause(filters),
        visibility.sql_predicate(ctx, mode='list', member_status='accepted')]
    query = (sa.select(models.images).where(*where)
             .order_by(*filtering.order_by(spec, native_nulls=db.dialect == 'postgresql'))
             .offset(offset).limit(limit))
    with db.engine.connect() as conn:
        return [r.id for r in conn.execute(query)]


def rows_before(db, ctx, filters, spec, marker_id):
    where = filtering.filter_clauses(filters) + [
        filtering.deleted_clause(filters),
        visibility.sql_predicate(ctx, mode='list', member_status='accepted')]
    with db.engine.connect() as conn:
        marker = conn.execute(sa.select(models.images).where(
            models.images.c.id == marker_id)).mappings().one()
        return conn.execute(sa.select(sa.func.count()).select_from(models.images).where(
            *where, ~filtering.after_marker(spec, marker))).scalar()


def run_engine(engine_name, args, tmp):
    url = create_database(engine_name, tmp)
    db = Catalog(url)
    try:
        db.create_schema()
        t = time.perf_counter()
        chain = build(db, args.images, args.chain)
        build_s = time.perf_counter() - t
        rng = random.Random(2)
        user = RequestContext('p07')
        results = {}
        prop = {'properties': {'os_distro': 'ubuntu'}}
        results['page: property filter, created_at desc'] = timed(
            lambda: db.image_get_all(user, filters=prop, limit=25), args.samples)
        results['page: property filter, sort name asc'] = timed(
            lambda: db.image_get_all(user, filters=prop, limit=25, sort_key='name',
                                     sort_dir='asc'), args.samples)

        # a public image 90% of the way down the default (newest-first) order
        with db.engine.connect() as conn:
            deep = conn.execute(sa.select(models.images.c.id).where(
                models.images.c.visibility == 'public',
                models.images.c.created_at >= T0 + datetime.timedelta(
                    seconds=int(args.images * 0.10))).order_by(
                models.images.c.created_at).limit(1)).scalar()
        spec = filtering.sort_spec(None, None)
        keyset_ids = [r['id'] for r in db.image_get_all(user, marker=deep, limit=25)]
        skip = rows_before(db, user, {}, spec, deep)
        assert offset_page(db, user, {}, spec, skip, 25) == keyset_ids
        print('# %s: deep page starts after row %d of the list' % (engine_name, skip))
        results['deep page: keyset marker'] = timed(
            lambda: db.image_get_all(user, marker=deep, limit=25), args.samples)
        results['deep page: OFFSET (baseline)'] = timed(
            lambda: offset_page(db, user, {}, spec, skip, 25), args.samples)

        visible = [image_id(i) for i in range(1, args.images, 7)]
        visible = [i for i in visible[:400]
                   if db.is_image_visible(user, {'id': i, **_owner_vis(db, i)})]
        results['image_get'] = timed(lambda: db.image_get(user, rng.choice(visible)),
                                     args.samples)

        owner = RequestContext('p07')
        shared = db.image_create(owner, {'name': 'bench-shared', 'visibility': 'shared'})
        counter = iter(range(10 ** 9))
        results['image_member_create'] = timed(
            lambda: db.image_member_create(owner, {'image_id': shared['id'],
                                                   'member': 'm%d' % next(counter)}),
            args.samples)

        chain_ctx = RequestContext('chain')
        children = db.get_hard_dependencies_children(chain_ctx, chain[-1])
        assert len(children) == len(chain) - 1
        results['dependency children of a %d-chain tail' % len(chain)] = timed(
            lambda: db.get_hard_dependencies_children(chain_ctx, chain[-1]),
            max(5, args.samples // 10))
        return build_s, results
    finally:
        db.dispose()
        drop_database(engine_name, url)


# -- listing matrix: every sort key ------------------------------------------

CALLERS = {'admin': RequestContext('p00', is_admin=True), 'user': RequestContext('p07')}


def set_schema(db, revision):
    """Migrate the (filled) catalog to ``revision`` and refresh statistics."""
    from alembic import command
    from store_kit.catalog import schema
    with db.engine.begin() as conn:
        current = schema.current_revision(db.engine)
        if revision != current:
            if revision == 'head':
                command.upgrade(schema.alembic_config(conn), revision)
            else:
                command.downgrade(schema.alembic_config(conn), revision)
    analyze(db)


def marker_for(db, ctx, key, direction, filters):
    """The id of the row halfway down the caller's list in this order."""
    spec = filtering.sort_spec(key, direction)
    where = filtering.filter_clauses(filters) + [
        filtering.deleted_clause(filters),
        visibility.sql_predicate(ctx, mode='list', member_status='accepted')]
    with db.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(models.images)
                             .where(*where)).scalar()
    return offset_page(db, ctx, filters, spec, total // 2, 1)[0]


#: the figure of earlier runs: a property filter keeping ~10%, sorted by name
PROPERTY_FILTER = {'properties': {'os_distro': 'ubuntu'}}


def listing_cases(args):
    keys = args.keys.split(',') if args.keys else list(filtering.SORT_KEYS)
    for key in keys:
        for direction in ('asc', 'desc'):
            for who in CALLERS:
                yield key, direction, who, {}
    if not args.keys or 'name' in keys:
        for direction in ('asc', 'desc'):
            for who in CALLERS:
                yield 'name', direction, who, PROPERTY_FILTER


def listing_matrix(db, args):
    """p50/p95 of one page for every sort key, direction, marker and caller."""
    results = {}
    for key, direction, who, filters in listing_cases(args):
        ctx = CALLERS[who]
        marker = marker_for(db, ctx, key, direction, filters)
        for with_marker in (False, True):
            kwargs = dict(filters=filters, sort_key=key, sort_dir=direction,
                          limit=args.limit, marker=marker if with_marker else None)
            page = db.image_get_all(ctx, **kwargs)
            assert len(page) == args.limit, (key, direction, who, len(page))
            label = (key, direction, 'os_distro=ubuntu' if filters else '-',
                     'marker' if with_marker else '-', who)
            results[label] = timed(lambda: db.image_get_all(ctx, **kwargs), args.samples)
    # what SQL alone costs: the first row of the table, without the API
    # (checks, children, hydration, redaction)
    bare = (sa.select(models.images).where(models.images.c.deleted == sa.false())
            .order_by(models.images.c.name, models.images.c.id).limit(args.limit))

    def bare_page():
        with db.engine.connect() as conn:
            return conn.execute(bare).mappings().all()
    results[('name', 'asc', 'bare SQL, image rows only', '-', 'admin')] = timed(
        bare_page, args.samples)
    return results


def run_listing(engine_name, args, tmp):
    """The matrix on the schema before 0005 (baseline), then at head."""
    url = create_database(engine_name, tmp)
    db = Catalog(url)
    try:
        db.create_schema()
        t = time.perf_counter()
        build(db, args.images, 0)
        print('# %s: built %d images in %.1f s'
              % (engine_name, args.images, time.perf_counter() - t), flush=True)
        phases = {}
        for phase, revision in (('baseline', args.baseline), ('head', 'head')):
            if revision == 'none':
                continue
            set_schema(db, revision)
            print('# %s: %s (schema %s), load %s' % (
                engine_name, phase, revision, ' '.join('%.2f' % x for x in os.getloadavg())),
                flush=True)
            phases[phase] = listing_matrix(db, args)
        return phases
    finally:
        db.dispose()
        drop_database(engine_name, url)


def print_listing(engine_name, phases, limit):
    names = list(phases)
    print('\n## %s: page of %d, p50 / p95 ms (%s)' % (engine_name, limit, ' | '.join(names)))
    print('| sort | filter | marker | caller | %s |' % ' | '.join(names))
    print('|---|---|---|---|%s' % ('---|' * len(names)))
    worst = {n: 0.0 for n in names}
    for label in phases[names[-1]]:
        key, direction, filters, marker, who = label
        cells = []
        for n in names:
            p50, p95 = phases[n][label]
            worst[n] = max(worst[n], p50)
            cells.append('%.2f / %.2f' % (p50, p95))
        print('| `%s %s` | %s | %s | %s | %s |'
              % (key, direction, filters, marker, who, ' | '.join(cells)))
    print('# %s worst p50: %s' % (engine_name, ', '.join('%s %.2f' % kv for kv in worst.items())),
          flush=True)


def _owner_vis(db, iid):
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(models.images.c.owner, models.images.c.visibility)
                           .where(models.images.c.id == iid)).one()
    return {'owner': row.owner, 'visibility': row.visibility}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=100000)
    parser.add_argument('--chain', type=int, default=10000)
    parser.add_argument('--samples', type=int, default=200)
    parser.add_argument('--engines', default='sqlite,postgresql,mariadb')
    parser.add_argument('--listing', action='store_true',
                        help='time a page for every sort key instead (admin and user '
                             'caller, asc/desc, with and without a marker)')
    parser.add_argument('--limit', type=int, default=25, help='--listing page size')
    parser.add_argument('--keys', default='', help='--listing: these sort keys only')
    parser.add_argument('--baseline', default='0004',
                        help="--listing: schema revision of the baseline ('none' to skip)")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(',') if e]
    if args.listing:
        with tempfile.TemporaryDirectory() as tmp:
            for engine_name in engines:
                print_listing(engine_name, run_listing(engine_name, args, tmp), args.limit)
        return
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in engines:
            build_s, results = run_engine(engine_name, args, tmp)
            print('# %s: built %d images in %.1f s' % (engine_name, args.images, build_s),
                  flush=True)
            table[engine_name] = results
    ops = list(next(iter(table.values())))
    width = max(len(op) for op in ops)
    print('\n%-*s  %s' % (width, 'operation (ms, p50 / p95)',
                          '  '.join('%-17s' % e for e in engines)))
    for op in ops:
        cells = ['%7.2f / %7.2f' % table[e][op] for e in engines]
        print('%-*s  %s' % (width, op, '  '.join('%-17s' % c for c in cells)))


if __name__ == '__main__':
    main()
