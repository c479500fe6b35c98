"""image_get_all: filters, sort keys, keyset pagination."""

import datetime
import random

import pytest
import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import Catalog, filters as filtering
from store_kit.context import RequestContext

T0 = datetime.datetime(2024, 1, 1)


def make(db, ctx, n, **values):
    values.setdefault('name', 'img-%02d' % n)
    values.setdefault('created_at', T0 + datetime.timedelta(minutes=n))
    values.setdefault('visibility', 'private')
    return db.image_create(ctx, values)


@pytest.fixture
def catalog_of_10(db, p1):
    images = []
    for n in range(10):
        images.append(make(db, p1, n, size=None if n % 3 == 0 else n * 100,
                           disk_format='qcow2' if n % 2 else 'raw',
                           properties={'os': 'linux' if n < 6 else 'bsd', 'n': str(n)},
                           tags=['even'] if n % 2 == 0 else ['odd', 'x'],
                           status='active' if n < 8 else 'queued',
                           min_ram=n % 4))
    return images


def ids(rows):
    return [r['id'] for r in rows]


def test_default_order_is_newest_first(db, p1, catalog_of_10):
    assert ids(db.image_get_all(p1)) == ids(reversed(catalog_of_10))


@pytest.mark.parametrize('filters, expected', [
    ({'disk_format': 'raw'}, [0, 2, 4, 6, 8]),
    ({'status': 'queued'}, [8, 9]),
    ({'name': 'img-03'}, [3]),
    ({'name': 'in:img-03,img-05,nope'}, [3, 5]),
    ({'properties': {'os': 'bsd'}}, [6, 7, 8, 9]),
    ({'properties': {'os': 'linux', 'n': '4'}}, [4]),
    ({'tags': ['odd', 'x']}, [1, 3, 5, 7, 9]),
    ({'tags': ['odd', 'even']}, []),
    ({'size_min': 400, 'size_max': 700}, [4, 5, 7]),
    ({'min_ram_min': 3}, [3, 7]),
    ({'created_at': 'gte:2024-01-01T00:08:00'}, [8, 9]),
    ({'created_at': ['gt:2024-01-01T00:01:00', 'lte:2024-01-01T00:03:00']}, [2, 3]),
    ({'created_at': 'neq:2024-01-01T00:00:00'}, list(range(1, 10))),
    ({'created_at': '2024-01-01T00:04:00'}, [4]),
    ({'os_hidden': 'false', 'disk_format': 'qcow2', 'status': 'active'}, [1, 3, 5, 7]),
])
@pytest.mark.parametrize('dense', [False, True], ids=['from-index', 'per-row'])
def test_filters(db, p1, catalog_of_10, filters, expected, dense, monkeypatch):
    # both plans for property/tag filters (see filters.all_dense) give one answer
    monkeypatch.setattr(filtering, 'DENSE', 1 if dense else 10 ** 6)
    got = db.image_get_all(p1, filters=filters, sort_key='name', sort_dir='asc')
    assert ids(got) == [catalog_of_10[n]['id'] for n in expected]


def test_changes_since_includes_deleted(db, p1, catalog_of_10):
    db.image_destroy(p1, catalog_of_10[0]['id'])
    since = catalog_of_10[0]['updated_at']
    got = db.image_get_all(p1, filters={'changes-since': since.isoformat()})
    assert catalog_of_10[0]['id'] in ids(got)
    assert catalog_of_10[0]['id'] not in ids(db.image_get_all(p1))


@pytest.mark.parametrize('kwargs, word', [
    ({'sort_key': 'colour'}, 'colour'),
    ({'sort_dir': 'sideways'}, 'sideways'),
    ({'filters': {'flavour': 'x'}}, 'flavour'),
    ({'filters': {'size_min': 'big'}}, 'big'),
    ({'filters': {'created_at': 'soon:2024-01-01'}}, 'soon'),
    ({'filters': {'created_at': 'yesterday'}}, 'yesterday'),
    ({'filters': {'os_hidden': 'perhaps'}}, 'perhaps'),
    ({'limit': -1}, '-1'),
])
def test_bad_arguments_are_named(db, p1, kwargs, word):
    with pytest.raises(exceptions.Invalid, match=word):
        db.image_get_all(p1, **kwargs)


def test_return_tag(db, p1, catalog_of_10):
    rows = db.image_get_all(p1, return_tag=True, sort_key='name', sort_dir='asc', limit=2)
    assert [r['tags'] for r in rows] == [['even'], ['odd', 'x']]
    assert 'tags' not in db.image_get_all(p1, limit=1)[0]


def walk(db, ctx, limit, **kwargs):
    pages, marker = [], None
    while True:
        page = db.image_get_all(ctx, marker=marker, limit=limit, **kwargs)
        pages.extend(page)
        if len(page) < limit:
            return pages
        marker = page[-1]['id']


def python_order(rows, keys, dirs):
    """Python model of the order: NULLs last ascending, first descending; id last."""
    rows = list(rows)
    for k, d in reversed(list(zip(keys + ['id'], dirs + [dirs[0]]))):
        rows.sort(key=lambda r: (r[k] is None, r[k] if r[k] is not None else 0),
                  reverse=d == 'desc')
    return rows


@pytest.mark.parametrize('keys, dirs', [
    (['size'], ['asc']), (['size'], ['desc']),
    (['disk_format', 'size'], ['asc', 'desc']),
    (['min_ram', 'name'], ['desc', 'asc']),
    (['status', 'created_at'], ['asc', 'asc']),
    (['updated_at'], ['desc']),
])
@pytest.mark.parametrize('limit', [1, 3, 4])
def test_keyset_pagination_never_skips_or_repeats(db, p1, catalog_of_10, keys, dirs, limit):
    rows = walk(db, p1, limit, sort_key=keys, sort_dir=dirs)
    assert sorted(ids(rows)) == sorted(ids(catalog_of_10))
    assert ids(rows) == ids(python_order(catalog_of_10, keys, dirs))


def test_pagination_with_many_ties_and_nulls(db, p1):
    rng = random.Random(7)
    made = [make(db, p1, n, size=rng.choice([None, 1, 2]), name=rng.choice([None, 'a', 'b']),
                 created_at=T0) for n in range(30)]
    for keys, dirs in ((['name', 'size'], ['asc', 'desc']), (['size'], ['desc'])):
        rows = walk(db, p1, 4, sort_key=keys, sort_dir=dirs)
        assert ids(rows) == ids(python_order(made, keys, dirs))


def test_marker_the_caller_cannot_see_is_not_found(db, p1, p2, catalog_of_10):
    hidden = catalog_of_10[3]['id']
    with pytest.raises(exceptions.ImageNotFound, match=hidden):
        db.image_get_all(p2, marker=hidden)
    with pytest.raises(exceptions.ImageNotFound, match='nope'):
        db.image_get_all(p1, marker='nope')


@pytest.fixture
def mixed_catalog(db, admin, p1, p2):
    return fill_mixed(db, admin, p1, p2)


def fill_mixed(db, admin, p1, p2):
    """Images of two owners, every visibility, NULLs and ties in each column."""
    rng = random.Random(11)
    made = []
    for n in range(14):
        owner = p1 if n % 3 else p2
        vis = ['private', 'shared', 'public', 'community'][n % 4]
        image = make(db, owner, n, visibility=vis, name=rng.choice([None, 'a', 'b', 'c']),
                     status=rng.choice(['active', 'queued']),
                     size=rng.choice([None, 1, 2]), virtual_size=rng.choice([None, 5]),
                     checksum=rng.choice([None, '%032x' % 1, '%032x' % 2]),
                     os_hash_algo=rng.choice([None, 'sha512']),
                     os_hash_value=rng.choice([None, 'ab', 'cd']),
                     disk_format=rng.choice([None, 'raw', 'qcow2']),
                     container_format=rng.choice([None, 'bare']),
                     min_disk=rng.choice([0, 3]), min_ram=rng.choice([0, 7]),
                     os_hidden=rng.choice([False, True]), protected=rng.choice([False, True]),
                     created_at=T0 + datetime.timedelta(minutes=rng.choice([0, 1])))
        if vis == 'shared' and owner is p2:
            db.image_member_create(p2, {'image_id': image['id'], 'member': 'p1',
                                        'status': 'accepted' if n % 2 else 'pending'})
        made.append(db.image_get(admin, image['id']))
    return made


@pytest.mark.parametrize('key', filtering.SORT_KEYS)
@pytest.mark.parametrize('direction', ['asc', 'desc'])
def test_every_sort_key_pages_like_python(db, admin, p1, mixed_catalog, key, direction):
    """Each documented sort key, both directions, admin and non-admin caller:
    walking pages gives the caller's visible images in the Python order."""
    visible = [i for i in mixed_catalog if i['owner'] == 'p1' or i['visibility'] == 'public'
               or (i['visibility'] == 'shared' and i['id'] in accepted_by(db, admin, 'p1'))]
    for ctx, expected in ((admin, mixed_catalog), (p1, visible)):
        rows = walk(db, ctx, 3, sort_key=key, sort_dir=direction)
        assert ids(rows) == ids(python_order(expected, [key], [direction])), ctx


def accepted_by(db, admin, member):
    found = db.image_member_find(admin, member=member, status='accepted')
    return {m['image_id'] for m in found}


@pytest.fixture(scope='module')
def sqlite_db(tmp_path_factory):
    """A SQLite catalog of its own: plan shapes are checked on SQLite only
    (on tiny tables the server engines rightly prefer to sort)."""
    db = Catalog('sqlite:///%s' % (tmp_path_factory.mktemp('plans') / 'catalog.db'))
    db.create_schema()
    yield db
    db.dispose()


@pytest.fixture(scope='module')
def sqlite_mixed(sqlite_db):
    fill_mixed(sqlite_db, RequestContext('admin', is_admin=True), RequestContext('p1'),
               RequestContext('p2'))
    return sqlite_db


@pytest.mark.parametrize('key', filtering.SORT_KEYS)
def test_sqlite_pages_are_read_in_index_order(sqlite_mixed, admin, p1, key):
    """No listing query sorts: the (key, id) index serves the order, with the
    visibility predicate of an admin or a project, with and without a marker."""
    db = sqlite_mixed
    statements = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if 'ORDER BY' in statement and 'UNION' not in statement:
            statements.append((statement, parameters))
    sa.event.listen(db.engine, 'before_cursor_execute', grab)
    try:
        for ctx in (admin, p1):
            for direction in ('asc', 'desc'):
                first = db.image_get_all(ctx, sort_key=key, sort_dir=direction, limit=5)
                db.image_get_all(ctx, sort_key=key, sort_dir=direction, limit=5,
                                 marker=first[2]['id'])
    finally:
        sa.event.remove(db.engine, 'before_cursor_execute', grab)
    assert statements
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = [r[-1] for r in conn.exec_driver_sql('EXPLAIN QUERY PLAN ' + statement,
                                                        parameters)]
            assert not [step for step in plan if 'TEMP B-TREE' in step], (statement, plan)
