"""`store-kit glance import` on glance databases made by glance itself
(``glance-manage db_sync``) and filled by SQL with the rows glance's API
never writes but its schema allows, on SQLite, PostgreSQL and MariaDB (the
store_kit catalog on the same engine)."""

import datetime
import json
import threading

import pytest
import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import Catalog, models
from store_kit.context import RequestContext
from store_kit.glance import database, importer
from tests.catalog import databases
from tests.catalog.helpers import clean
from tests.glance import glancedb
from tests.helpers import make_registry

ENGINES = ('sqlite', 'postgresql', 'mariadb')
ADMIN = RequestContext(project_id='admin', is_admin=True)
T0 = datetime.datetime(2024, 3, 1, 12, 0, 0)
GLANCE_TABLES = ('image_locations', 'image_members', 'image_tags', 'image_properties',
                 'images')


@pytest.fixture(scope='module', params=ENGINES)
def engines(request, tmp_path_factory):
    """A glance database (schema by glance) and a migrated store_kit catalog
    on one engine."""
    name = request.param
    glance_url = glancedb.create(name, tmp_path_factory.mktemp('gdb'))
    catalog_url = databases.create_database(name, tmp_path_factory.mktemp('cat'))
    db = Catalog(catalog_url)
    db.create_schema()
    yield name, glance_url, db
    db.dispose()
    databases.drop_database(name, catalog_url)
    glancedb.drop(name, glance_url)


@pytest.fixture
def gdb(engines):
    _, url, _ = engines
    glancedb.clear(url)
    g = database.GlanceDatabase(url)
    yield g
    g.dispose()


@pytest.fixture
def db(engines):
    _, _, catalog = engines
    clean(catalog)
    return catalog


@pytest.fixture
def registry(tmp_path):
    d = tmp_path / 'data'
    reg = make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = pool1:file, pool10:file
        [store_kit]
        default_backend = pool1
        [pool1]
        filesystem_store_datadir = {d}/pool1
        [pool10]
        filesystem_store_datadir = {d}/pool10
        """.format(d=d))
    reg.datadir = str(d)
    yield reg
    reg.close()


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def image(image_id, **values):
    row = glancedb.image_row(image_id, size=10, when=T0)
    row.update(values)
    return row


def child(image_id, n, deleted=False, **values):
    row = {'image_id': image_id, 'created_at': at(n), 'updated_at': at(n), 'deleted': deleted,
           'deleted_at': at(n + 1) if deleted else None}
    row.update(values)
    return row


def fill(url, **rows):
    """Insert ``table=[rows]`` into glance's database, parents first."""
    eng = glancedb.engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(eng, only=GLANCE_TABLES)
        with eng.begin() as conn:
            for name in reversed(GLANCE_TABLES):
                if rows.get(name):
                    keys = set().union(*rows[name])     # one shape for executemany
                    conn.execute(meta.tables[name].insert(),
                                 [dict(dict.fromkeys(keys), **r) for r in rows[name]])
    finally:
        eng.dispose()


def glance_rows(url, kind='images'):
    t = importer.G_CHILDREN.get(kind, importer.G_IMAGES)
    eng = glancedb.engine(url)
    try:
        with eng.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]
    finally:
        eng.dispose()


def rows_of(db, table, **where):
    t = models.metadata.tables[table]
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(
            *[t.c[k] == v for k, v in where.items()]).order_by(t.c.id)).mappings()]


def run(gdb, registry, db, **kwargs):
    return importer.run(gdb, registry, db, glance_stores=['pool1', 'pool10', 'ceph'],
                        **kwargs)


def file_url(registry, store, name):
    return 'file://%s/%s/%s' % (registry.datadir, store, name)


# -- what is kept -----------------------------------------------------------------

def test_every_column_kept_exactly(gdb, registry, db):
    """ids, owners, visibility, os_hidden, statuses, timestamps, checksum and
    multihash, member statuses, location status and metadata, as glance's
    database returns them."""
    md5, sha = 'a' * 32, 'b' * 128
    fill(gdb.url, images=[
        image('img-1', owner='Project-A', visibility='community', os_hidden=True,
              protected=True, checksum=md5, os_hash_algo='sha512', os_hash_value=sha,
              virtual_size=2 ** 40, size=2 ** 35, min_disk=20, min_ram=2048,
              name='Ubuntü 24.04', status='active', disk_format='qcow2',
              created_at=datetime.datetime(2021, 5, 6, 7, 8, 9, 123456),
              updated_at=datetime.datetime(2023, 1, 2, 3, 4, 5, 654321)),
        image('img-2', owner=None, visibility='shared', status='deactivated'),
        image('img-3', visibility='private', status='queued', size=None, checksum=None),
    ], image_properties=[
        child('img-1', 1, name='os_distro', value='ubuntu'),
        child('img-1', 2, name='empty', value=None),
        child('img-1', 3, name='x' * 255, value='v' * 255),
    ], image_tags=[child('img-1', 4, value='ñ-tag'), child('img-1', 5, value='second')],
        image_members=[
        child('img-2', 6, member='p2', can_share=True, status='accepted'),
        child('img-2', 7, member='p3', can_share=False, status='rejected'),
        child('img-2', 8, member='P2', can_share=False, status='pending'),
    ], image_locations=[
        child('img-1', 9, value=file_url(registry, 'pool10', 'img-1'),
              meta_data=json.dumps({'store': 'pool10', 'note': [1, {'k': 'ü'}]}),
              status='active'),
        child('img-1', 10, value=file_url(registry, 'pool1', 'img-1'),
              meta_data=json.dumps({'store': 'pool1'}), status='active'),
        child('img-2', 11, value=file_url(registry, 'pool1', 'img-2'),
              meta_data='{"store": "pool1"}', status='active'),
    ])
    report = run(gdb, registry, db)
    assert report.complete
    assert {k: dict(v) for k, v in report.counts.items()} == {
        'images': {'imported': 3, 'skipped': 0, 'refused': 0},
        'properties': {'imported': 3, 'skipped': 0, 'refused': 0},
        'tags': {'imported': 2, 'skipped': 0, 'refused': 0},
        'members': {'imported': 3, 'skipped': 0, 'refused': 0},
        'locations': {'imported': 3, 'skipped': 0, 'refused': 0}}
    for row in glance_rows(gdb.url):
        mine = rows_of(db, 'images', id=row['id'])[0]
        assert mine == row
    one = db.image_get(ADMIN, 'img-1')
    assert one['properties'] == {'os_distro': 'ubuntu', 'empty': None, 'x' * 255: 'v' * 255}
    assert one['tags'] == ['ñ-tag', 'second']
    assert [(loc['url'], loc['metadata'], loc['status']) for loc in one['locations']] == [
        (file_url(registry, 'pool10', 'img-1'),
         {'store': 'pool10', 'note': [1, {'k': 'ü'}]}, 'active'),
        (file_url(registry, 'pool1', 'img-1'), {'store': 'pool1'}, 'active')]
    kids = {'properties': ('name', 'value'), 'tags': ('value',),
            'members': ('member', 'can_share', 'status')}
    common = ('image_id', 'created_at', 'updated_at', 'deleted', 'deleted_at')
    for kind, cols in kids.items():
        theirs = [{c: r[c] for c in cols + common} for r in glance_rows(gdb.url, kind)]
        mine = [{c: r[c] for c in theirs[0]} for r in rows_of(db, kind)]
        assert mine == theirs, kind
    theirs = [(r['value'], r['created_at'], r['updated_at']) for r in
              glance_rows(gdb.url, 'locations')]
    assert [(r['url'], r['created_at'], r['updated_at']) for r in rows_of(db, 'locations')] \
        == theirs
    # members are case-exact, as everything else in the catalog
    assert {m['member'] for m in db.image_member_find(ADMIN, image_id='img-2')} == {
        'p2', 'P2', 'p3'}
    assert db.image_get(RequestContext(project_id='p2'), 'img-2')['id'] == 'img-2'


def test_soft_deleted_rows_only_with_include_deleted(gdb, registry, db):
    fill(gdb.url, images=[
        image('live'),
        image('gone', deleted=True, status='deleted', deleted_at=at(50)),
        image('pending', deleted=True, status='pending_delete', deleted_at=at(60)),
    ], image_properties=[
        child('live', 1, name='kept', value='1'),
        child('live', 2, deleted=True, name='removed', value='2'),
        child('gone', 3, deleted=True, name='p', value='3'),
    ], image_tags=[child('live', 4, value='t'), child('live', 5, deleted=True, value='old'),
                   child('gone', 6, deleted=True, value='t')],
        image_members=[child('live', 7, deleted=True, member='p2', can_share=False,
                             status='accepted')],
        image_locations=[
        child('live', 8, value=file_url(registry, 'pool1', 'live'), meta_data='{}',
              status='active'),
        child('live', 9, deleted=True, value=file_url(registry, 'pool1', 'old'),
              meta_data='{}', status='deleted'),
        child('live', 10, deleted=True, value=file_url(registry, 'pool10', 'later'),
              meta_data='{"store": "pool10"}', status='pending_delete'),
        child('gone', 11, deleted=True, value=file_url(registry, 'pool1', 'gone'),
              meta_data='{}', status='deleted'),
        child('pending', 12, deleted=True, value=file_url(registry, 'pool10', 'pending'),
              meta_data='{}', status='pending_delete'),
    ])
    report = run(gdb, registry, db)
    assert [r['id'] for r in rows_of(db, 'images')] == ['live']
    assert report.as_dict()['deleted_left_out'] == {
        'images': 2, 'properties': 1, 'tags': 1, 'members': 1, 'locations': 2}
    assert report.counts['images']['skipped'] == 2
    assert [r['name'] for r in rows_of(db, 'properties')] == ['kept']
    assert [(r['status'], r['meta_data']) for r in rows_of(db, 'locations')] == [
        ('active', {'store': 'pool1'})]
    assert rows_of(db, 'members') == []

    clean(db)
    report = run(gdb, registry, db, include_deleted=True)
    assert report.as_dict()['deleted_left_out'] == dict.fromkeys(importer.KINDS, 0)
    got = {r['id']: (r['deleted'], r['status'], r['deleted_at']) for r in rows_of(db, 'images')}
    assert got == {'live': (False, 'active', None), 'gone': (True, 'deleted', at(50)),
                   'pending': (True, 'pending_delete', at(60))}
    props = {(r['image_id'], r['name']): (r['deleted'], r['deleted_at'])
             for r in rows_of(db, 'properties')}
    assert props == {('live', 'kept'): (False, None), ('live', 'removed'): (True, at(3)),
                     ('gone', 'p'): (True, at(4))}
    locs = {r['url'].rsplit('/', 1)[1]: (r['status'], r['delete_time'], r['meta_data'])
            for r in rows_of(db, 'locations')}
    assert locs == {
        'live': ('active', None, {'store': 'pool1'}),
        'old': ('deleted', None, {}),
        'later': ('pending_delete', at(11), {'store': 'pool10'}),   # deleted_at
        'gone': ('deleted', None, {}),
        'pending': ('pending_delete', at(13), {'store': 'pool10'})}
    [member] = rows_of(db, 'members')
    assert (member['deleted'], member['deleted_at']) == (True, at(8))
    # the scrubber's clock runs from glance's deleted_at
    due = db.claim_pending_deletes('test:1', older_than=at(12))
    assert [d['url'].rsplit('/', 1)[1] for d in due] == ['later']


def test_duplicate_live_members_keep_the_last_updated(gdb, registry, db):
    """glance's unique key (image_id, member, deleted_at) lets two live rows
    in; the catalog keeps one: the one updated last (ties: the later row)."""
    fill(gdb.url, images=[image('img', visibility='shared'), image('tie', visibility='shared')],
         image_members=[
        child('img', 1, member='p2', can_share=False, status='pending'),
        dict(child('img', 2, member='p2', can_share=True, status='accepted'),
             updated_at=at(30)),
        child('img', 3, member='p2', deleted=True, can_share=False, status='rejected'),
        child('tie', 4, member='p3', can_share=False, status='rejected'),
        dict(child('tie', 4, member='p3', can_share=False, status='accepted')),
    ])
    g = {(r['image_id'], r['status']): r['id'] for r in glance_rows(gdb.url, 'members')}
    report = run(gdb, registry, db)
    kept = {(r['image_id'], r['member']): (r['status'], r['can_share'], r['updated_at'])
            for r in rows_of(db, 'members')}
    assert kept == {('img', 'p2'): ('accepted', True, at(30)),
                    ('tie', 'p3'): ('accepted', False, at(4))}
    assert report.as_dict()['duplicate_members'] == [
        {'image_id': 'img', 'member': 'p2', 'kept': g[('img', 'accepted')],
         'dropped': [g[('img', 'pending')]]},
        {'image_id': 'tie', 'member': 'p3', 'kept': g[('tie', 'accepted')],
         'dropped': [g[('tie', 'rejected')]]}]
    assert report.merged['members'] == 2 and report.deleted['members'] == 1
    assert dict(report.counts['members']) == {'imported': 2, 'skipped': 3, 'refused': 0}
    assert '  image img member p2: kept row %d, dropped %d' % (
        g[('img', 'accepted')], g[('img', 'pending')]) in report.summary_lines()
    # p2 lists img as an accepted member, as glance does
    listed = db.image_get_all(RequestContext(project_id='p2'))
    assert [i['id'] for i in listed] == ['img']


def test_repeated_tags_kept_once(gdb, registry, db):
    fill(gdb.url, images=[image('img')], image_tags=[
        child('img', 1, value='a'), child('img', 2, value='b'), child('img', 3, value='a'),
        child('img', 4, deleted=True, value='b'), child('img', 5, deleted=True, value='c')])
    report = run(gdb, registry, db, include_deleted=True)
    assert [(r['value'], r['deleted'], r['created_at']) for r in rows_of(db, 'tags')] == [
        ('a', False, at(1)), ('b', False, at(2)), ('c', True, at(5))]
    assert report.merged['tags'] == 2
    assert db.image_get(ADMIN, 'img')['tags'] == ['a', 'b']


def test_meta_data_text_and_stores(gdb, registry, db):
    """meta_data is JSON text in glance: empty or NULL is {}; the store is
    filled in, corrected when the recorded one does not own the URL, kept
    for stores store_kit has no driver for (counted unresolved per scheme)."""
    rows = {
        'null': (None, file_url(registry, 'pool1', 'a'), {'store': 'pool1'}),
        'empty': ('', file_url(registry, 'pool10', 'b'), {'store': 'pool10'}),
        'extra': ('{"backend_note": "x"}', 'filesystem://%s/pool10/./c' % registry.datadir,
                  {'backend_note': 'x', 'store': 'pool10'}),
        'wrong': ('{"store": "pool1"}', file_url(registry, 'pool10', 'd'),
                  {'store': 'pool10'}),
        'retired': ('{"store": "old"}', file_url(registry, 'pool1', 'e'),
                    {'store': 'pool1'}),
        'ceph': ('{"store": "ceph"}', 'rbd://fsid/images/f/snap', {'store': 'ceph'}),
        'nobody': ('{}', 'file:///elsewhere/g', {}),
        'http': ('{}', 'https://user:pw@mirror.example.com/h?sig=1', {}),
    }
    fill(gdb.url, images=[image(k) for k in rows], image_locations=[
        child(k, n, value=url, meta_data=text, status='active')
        for n, (k, (text, url, _)) in enumerate(rows.items())])
    report = run(gdb, registry, db)
    for key, (_, url, meta) in rows.items():
        [loc] = rows_of(db, 'locations', image_id=key)
        assert (loc['url'], loc['meta_data']) == (url, meta), key
    assert (report.resolved, report.corrected, report.unresolved) == (4, 1, 3)
    assert dict(report.unresolved_by_scheme) == {'rbd': 1, 'file': 1, 'https': 1}
    text = json.dumps(report.as_dict()) + '\n'.join(report.summary_lines())
    assert 'pw' not in text and 'sig=1' not in text


def test_rows_the_catalog_cannot_hold_refuse_their_image(gdb, registry, db):
    """Reported with the reason, never altered; the other images come over."""
    bad = {
        'long-prop': ('property', 'value', 'v' * 1537),
        'bad-meta': ('location', 'meta', 'not json'),
        'list-meta': ('location', 'meta', '[1, 2]'),
        'visibility': ('image', 'visibility', 'hidden'),
        'status': ('image', 'status', 'bogus'),
        'min-disk': ('image', 'min_disk', -1),
        'nul-name': ('image', 'name', 'a\x00b'),
        'active-deleted': ('location', 'deleted', True),
        'member-status': ('member', 'status', 'maybe'),
    }
    engine_name = sa.engine.make_url(gdb.url).get_backend_name()
    if engine_name == 'postgresql':
        del bad['nul-name']                 # PostgreSQL refuses NUL itself
    if engine_name != 'sqlite':
        del bad['visibility']               # an ENUM column there
    images, props, locs, members = [image('good')], [], [], []
    for n, (image_id, (what, key, value)) in enumerate(bad.items()):
        if what == 'image':
            images.append(image(image_id, **{key: value}))
            continue
        images.append(image(image_id))
        if what == 'property':
            props.append(child(image_id, n, name='p', value=value))
        elif what == 'member':
            members.append(child(image_id, n, member='p2', can_share=False, status=value))
        else:
            loc = child(image_id, n, value=file_url(registry, 'pool1', image_id),
                        meta_data='{}', status='active')
            loc['meta_data' if key == 'meta' else key] = value
            locs.append(loc)
    fill(gdb.url, images=images, image_properties=props, image_locations=locs,
         image_members=members)
    report = run(gdb, registry, db, include_deleted=True)
    assert [r['id'] for r in rows_of(db, 'images')] == ['good']
    reasons = dict(report.refused_images)
    assert set(reasons) == set(bad)
    for image_id, (what, key, value) in bad.items():
        assert reasons[image_id].startswith('image %s: ' % image_id)
    assert "'vvvvv" in reasons['long-prop'] and '1536' in reasons['long-prop']
    assert 'meta_data is not a JSON object' in reasons['bad-meta']
    assert "'hidden'" in reasons.get('visibility', "'hidden'") and "'bogus'" in reasons['status']
    assert '-1' in reasons['min-disk'] and 'NUL' in reasons.get('nul-name', 'NUL')
    assert 'active but marked deleted' in reasons['active-deleted']
    assert "'maybe'" in reasons['member-status']
    assert report.counts['images']['refused'] == len(bad) and not report.complete


def test_null_updated_at_takes_created_at_and_is_counted(gdb, registry, db):
    fill(gdb.url, images=[image('img', updated_at=None)],
         image_properties=[dict(child('img', 1, name='p', value='v'), updated_at=None)])
    report = run(gdb, registry, db)
    assert rows_of(db, 'images')[0]['updated_at'] == T0
    assert rows_of(db, 'properties')[0]['updated_at'] == at(1)
    assert report.filled_updated_at == 2


# -- schema, resuming, dry run, concurrency ------------------------------------------

@pytest.mark.parametrize('version, says', [
    ('zed_contract01', 'reads glance 2023.1 onward'),
    ('2031_2_contract07', 'which store-kit does not know'),
])
def test_other_schemas_refused_by_name(gdb, registry, db, version, says):
    fill(gdb.url, images=[image('img')])
    eng = glancedb.engine(gdb.url)
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '%s'" % version)
    try:
        with pytest.raises(database.UnknownGlanceSchema) as info:
            run(gdb, registry, db)
        assert version in str(info.value) and says in str(info.value)
        assert rows_of(db, 'images') == []
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '2024_1_contract01'")
        eng.dispose()


def test_rolling_upgrade_revisions_accepted(gdb, registry, db):
    """During a rolling upgrade glance's alembic_version holds the expand and
    the contract heads."""
    eng = glancedb.engine(gdb.url)
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '2023_1_contract01'")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('2024_1_expand01')")
    try:
        assert importer.check_schema(gdb) == ['2023_1_contract01', '2024_1_expand01']
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql('DELETE FROM alembic_version')
            conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('2024_1_contract01')")
        eng.dispose()


def many(gdb, registry, n):
    fill(gdb.url, images=[image('img-%02d' % i) for i in range(n)],
         image_properties=[child('img-%02d' % i, i, name='n', value=str(i)) for i in range(n)],
         image_locations=[child('img-%02d' % i, i, value=file_url(registry, 'pool1', i),
                                meta_data='{}', status='active') for i in range(n)])


class Interrupted(Exception):
    pass


def test_interrupted_run_resumes_and_never_duplicates(gdb, registry, db):
    many(gdb, registry, 7)

    def stop_after_two_pages(n, report, seen=[]):
        seen.append(n)
        if len(seen) == 2:
            raise Interrupted()
    with pytest.raises(Interrupted):
        run(gdb, registry, db, batch_size=3, progress=stop_after_two_pages)
    assert len(rows_of(db, 'images')) == 6
    report = run(gdb, registry, db, batch_size=3)
    assert (report.counts['images']['imported'], report.already) == (1, 6)
    assert dict(report.counts['locations']) == {'imported': 1, 'skipped': 6, 'refused': 0}
    assert report.resolved == 1          # stores counted for what was written only
    assert sorted(r['id'] for r in rows_of(db, 'images')) == ['img-%02d' % i for i in range(7)]
    for table in ('properties', 'locations'):
        assert len(rows_of(db, table)) == 7


def test_dry_run_writes_nothing(gdb, registry, db):
    many(gdb, registry, 4)
    fill(gdb.url, images=[image('gone', deleted=True, status='deleted', deleted_at=T0)])
    seen = []
    report = run(gdb, registry, db, dry_run=True, batch_size=3,
                 progress=lambda n, report: seen.append(n))
    assert report.counts['images']['imported'] == 4 and report.resolved == 4
    assert rows_of(db, 'images') == []
    assert seen == [3, 2] and sum(seen) == importer.count_images(gdb)   # the bar's total


def test_two_imports_at_once_write_each_image_once(engines, gdb, registry, db):
    many(gdb, registry, 40)
    reports, errors = [], []

    def one():
        g = database.GlanceDatabase(gdb.url)
        try:
            reports.append(run(g, registry, db, batch_size=5))
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)
        finally:
            g.dispose()
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.counts['images']['imported'] for r in reports) == 40
    assert sum(r.already for r in reports) == 40
    assert len(rows_of(db, 'images')) == 40 and len(rows_of(db, 'locations')) == 40


def test_catalog_refuses_what_it_cannot_hold_before_writing(db):
    """The catalog's bulk method checks like the per-image API: nothing of
    a refused image is written, the rest of the batch is."""
    good = {'id': 'ok', 'created_at': T0, 'updated_at': T0, 'status': 'active',
            'visibility': 'public', 'locations': [
                {'url': 'file:///x/ok', 'metadata': {}, 'status': 'active',
                 'created_at': T0, 'updated_at': T0}]}
    cases = [
        dict(good, id='twice-tag', tags=[
            {'value': 't', 'created_at': T0, 'updated_at': T0},
            {'value': 't', 'created_at': T0, 'updated_at': T0}]),
        dict(good, id='redacted', locations=[
            {'url': 's3://***@host/b/k', 'metadata': {}, 'status': 'active',
             'created_at': T0, 'updated_at': T0}]),
        dict(good, id='no-time', created_at=None),
        dict(good, id='x' * 37),
        dict(good, id='unknown-key', colour='red'),
        dict(good, id='old', created_at=datetime.datetime(999, 1, 1)),
        dict(good, id='loc-status', locations=[
            {'url': 'file:///x/y', 'status': 'gone', 'created_at': T0, 'updated_at': T0}]),
    ]
    result = db.import_images([good] + cases)
    assert result.imported == ['ok']
    assert [i for i, _ in result.refused] == [c['id'] for c in cases]
    assert result.refused_rows['locations'] == 7 and result.refused_rows['tags'] == 2
    assert [r['id'] for r in rows_of(db, 'images')] == ['ok']
    assert rows_of(db, 'tags') == [] and len(rows_of(db, 'locations')) == 1
    again = db.import_images([good, dict(good, id='ok')])
    assert again.skipped == ['ok'] and again.refused == [('ok', 'image ok is given twice')]
    with pytest.raises(exceptions.Invalid):
        db.import_images('not a list')


# -- the command ---------------------------------------------------------------------

@pytest.fixture
def conf(gdb, tmp_path, monkeypatch):
    """glance-api.conf of the glance database under test (store_kit's file
    stores, an rbd store store_kit has no driver for)."""
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('STORE_KIT_HOME', str(tmp_path / 'skhome'))
    d = tmp_path / 'data'
    path = tmp_path / 'glance-api.conf'
    path.write_text("""
[DEFAULT]
enabled_backends = pool1:store_kit_file, pool10:store_kit_file, ceph:rbd
[database]
connection = {db}
[glance_store]
default_backend = pool1
[pool1]
filesystem_store_datadir = {d}/pool1
[pool10]
filesystem_store_datadir = {d}/pool10
[ceph]
rbd_store_pool = images
""".format(db=gdb.url, d=d))
    return str(path), str(d)


def sk(conf, *args):
    from tests.cli.test_cli import sk as run_cli
    return run_cli(None, '--config-file', conf[0], 'glance', 'import', *args)


def command_rows(gdb, d):
    fill(gdb.url, images=[image('a'), image('b', visibility='shared'),
                          image('x', deleted=True, status='deleted', deleted_at=at(9))],
         image_members=[child('b', 1, member='p2', can_share=False, status='accepted'),
                        child('b', 2, member='p2', can_share=False, status='pending')],
         image_locations=[
             child('a', 3, value='file://%s/pool10/a' % d, meta_data='', status='active'),
             child('b', 4, value='rbd://fsid/images/b/snap', meta_data='{"store": "ceph"}',
                   status='active')])


def test_command_json_summary_and_rerun(gdb, db, conf):
    command_rows(gdb, conf[1])
    code, out, err = sk(conf, '--to', db.url, '--format', 'json')
    assert code == 0, err
    summary = json.loads(out)
    assert summary['images'] == {'imported': 2, 'skipped': 1, 'refused': 0}
    assert summary['members'] == {'imported': 1, 'skipped': 1, 'refused': 0}
    assert summary['locations'] == {'imported': 2, 'skipped': 0, 'refused': 0}
    assert summary['stores'] == {'resolved': 1, 'corrected': 0, 'unresolved': 1,
                                 'unresolved_by_scheme': {'rbd': 1}}
    assert summary['deleted_left_out']['images'] == 1
    assert [d['member'] for d in summary['duplicate_members']] == ['p2']
    assert (summary['dry_run'], summary['include_deleted']) == (False, False)

    code, out, err = sk(conf, '--to', db.url, '--format', 'json', '--include-deleted')
    assert code == 0, err
    again = json.loads(out)
    assert again['images'] == {'imported': 1, 'skipped': 2, 'refused': 0}
    assert again['already_imported'] == 2
    assert sorted(r['id'] for r in rows_of(db, 'images')) == ['a', 'b', 'x']
    assert len(rows_of(db, 'members')) == 1 and len(rows_of(db, 'locations')) == 2


def test_command_dry_run_writes_nothing(gdb, db, conf, tmp_path):
    command_rows(gdb, conf[1])
    code, out, err = sk(conf, '--to', db.url, '--dry-run')
    assert code == 0, err
    assert 'would import 2 images, skipped 1, refused 0' in out
    assert rows_of(db, 'images') == []
    empty = tmp_path / 'new' / 'catalog.db'
    code, out, err = sk(conf, '--to', 'sqlite:///%s' % empty, '--dry-run')
    assert code == 0, err
    assert 'would import 2 images' in out
    assert not empty.exists() or Catalog('sqlite:///%s' % empty).schema_version() is None


def test_command_creates_the_schema_of_an_empty_target(gdb, conf, tmp_path):
    command_rows(gdb, conf[1])
    url = 'sqlite:///%s' % (tmp_path / 'new' / 'catalog.db')
    code, out, err = sk(conf, '--to', url)
    assert code == 0, err
    assert 'imported 2 images, skipped 1, refused 0' in out
    assert 'stores: 1 filled in, 0 corrected, 1 unresolved (1 rbd)' in out
    target = Catalog(url)
    try:
        assert sorted(i['id'] for i in target.image_get_all(ADMIN)) == ['a', 'b']
    finally:
        target.dispose()


def test_command_exits_1_when_an_image_is_refused(gdb, db, conf):
    signature = 'QUJD' * 171                    # a signed image: RSA-4096, 684 characters
    fill(gdb.url, images=[image('ok'), image('bad')],
         image_properties=[child('bad', 1, name='p', value='v' * 1600),
                           child('ok', 2, name='img_signature', value=signature)])
    code, out, err = sk(conf, '--to', db.url)
    assert code == 1
    assert 'imported 1 images, skipped 0, refused 1' in out
    assert 'refused images (id: reason):' in out
    assert "  bad: image bad: property 'p' value is longer than 1536 characters" in out
    assert [r['id'] for r in rows_of(db, 'images')] == ['ok']
    assert [(r['name'], r['value']) for r in rows_of(db, 'properties')] == [
        ('img_signature', signature)]


def test_command_refuses_an_old_glance_schema(gdb, db, conf):
    eng = glancedb.engine(gdb.url)
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'zed_contract01'")
    try:
        code, out, err = sk(conf, '--to', db.url)
        assert code == 1
        assert 'schema version zed_contract01' in err and 'glance 2023.1 onward' in err
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '2024_1_contract01'")
        eng.dispose()


def test_command_target_errors(gdb, conf, tmp_path):
    code, out, err = sk(conf)
    assert code == 2 and '--to' in err
    code, out, err = sk(conf, '--to', 'nosuchdialect://x/y')
    assert code == 2 and "--to: unknown database dialect or driver 'nosuchdialect'" in err
    code, out, err = sk(conf, '--to', 'postgresql+psycopg://u:S3cretPw@127.0.0.1:1/x')
    assert code == 1 and 'S3cretPw' not in out + err and '***' in err
    old = 'sqlite:///%s' % (tmp_path / 'old.db')
    target = Catalog(old)
    from store_kit.catalog import schema
    schema.upgrade(target.engine, '0003')
    target.dispose()
    code, out, err = sk(conf, '--to', old)
    assert code == 1 and 'at schema 0003' in err and 'store-kit db sync' in err
