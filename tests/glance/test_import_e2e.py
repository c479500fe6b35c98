"""`store-kit glance import` on a catalog the real glance 33 filled through
its API (uploads into file and s3 stores, sharing, tags, properties, a
copy-image import, deletes, deactivation, hidden and protected images), on
SQLite and PostgreSQL: afterwards every image lists, shows and downloads
the same through store_kit (ImageService with the stores of the same
glance-api.conf) as through glance."""

import hashlib
import json

import pytest
import sqlalchemy as sa
from oslo_config import cfg

import store_kit
from store_kit import exceptions
from store_kit.catalog import Catalog, models
from store_kit.context import RequestContext
from store_kit.glance import importer
from store_kit.images import ImageService
from tests.catalog import databases
from tests.glance.test_glance_e2e import download, payload, upload, wait_for

ADMIN = RequestContext(project_id='admin', is_admin=True)
PROJECTS = ('p1', 'p2', 'p3', 'p4', 'p5', 'admin')
#: glance's image fields that are columns (the rest of a GET are properties)
GLANCE_BASE = {'id', 'name', 'status', 'visibility', 'owner', 'size', 'virtual_size',
               'checksum', 'os_hash_algo', 'os_hash_value', 'disk_format',
               'container_format', 'min_disk', 'min_ram', 'protected', 'os_hidden',
               'created_at', 'updated_at', 'tags', 'stores', 'file', 'schema', 'self',
               'direct_url', 'locations'}


@pytest.fixture(scope='module')
def filled(glance):
    """glance filled through its API (once per engine): ``{label: id}``."""
    admin = glance.client()
    p1 = glance.client(project='p1')
    made = {}
    made['public'] = upload(admin, payload(70001, 'imp-public'), 'pool1',
                            visibility='public', name='imp-public',
                            os_distro='cirros', hw_disk_bus='virtio',
                            tags=['alpha', 'beta'], min_disk=1, min_ram=64)
    admin.image_tags.delete(made['public'].id, 'beta')            # a soft-deleted tag
    admin.images.update(made['public'].id, remove_props=['hw_disk_bus'])
    made['shared'] = upload(p1, payload(50000, 'imp-shared'), 'pool10',
                            visibility='shared', name='imp-shared')
    for member in ('p2', 'p3', 'p4', 'p5'):
        p1.image_members.create(made['shared'].id, member)
    glance.client(project='p2').image_members.update(made['shared'].id, 'p2', 'accepted')
    glance.client(project='p3').image_members.update(made['shared'].id, 'p3', 'rejected')
    p1.image_members.delete(made['shared'].id, 'p4')    # a soft-deleted row
    p1.image_members.delete(made['shared'].id, 'p5')
    p1.image_members.create(made['shared'].id, 'p5')    # glance revives the row
    made['community'] = upload(p1, payload(6 * (1 << 20) + 3, 'imp-community'), 's3a',
                               visibility='community', name='imp-community')
    made['copied'] = upload(admin, payload((1 << 20) + 9, 'imp-copied'), 's3b',
                            name='imp-copied')
    admin.images.image_import(made['copied'].id, method='copy-image', stores=['pool10'])
    wait_for(lambda: set(admin.images.get(made['copied'].id).stores.split(','))
             >= {'s3b', 'pool10'})
    made['hidden'] = upload(admin, payload(1234, 'imp-hidden'), 'pool1',
                            name='imp-hidden', os_hidden=True)
    made['protected'] = upload(p1, payload(4321, 'imp-protected'), 'pool10',
                               name='imp-protected', protected=True, visibility='private')
    made['deactivated'] = upload(admin, payload(999, 'imp-deact'), 's3a', name='imp-deact')
    admin.images.deactivate(made['deactivated'].id)
    made['queued'] = admin.images.create(name='imp-queued', disk_format='qcow2',
                                         container_format='bare', architecture='x86_64')
    made['deleted'] = upload(p1, payload(777, 'imp-deleted'), 'pool1', name='imp-deleted',
                             tags=['gone'], purpose='delete me')
    p1.images.delete(made['deleted'].id)
    return {label: image.id for label, image in made.items()}


def store_kit_registry(glance):
    """The stores of glance's own glance-api.conf, as store_kit builds them."""
    conf = cfg.ConfigOpts()
    store_kit.register_opts(conf)
    conf(['--config-file', glance.conf_file], project='store-kit',
         default_config_files=[], default_config_dirs=[])
    return store_kit.create_stores(conf)


def run_import(glance, catalog_url, *options):
    from tests.cli.test_cli import sk
    return sk(None, '--config-file', glance.conf_file, 'glance', 'import',
              '--to', catalog_url, '--format', 'json', *options)


@pytest.fixture(scope='module')
def imported(glance, filled, tmp_path_factory):
    """glance's catalog imported once per engine: ``(Catalog, registry,
    summary)``."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp('import-home')
    mp.setenv('HOME', str(home))
    mp.setenv('STORE_KIT_HOME', str(home / 'sk'))
    url = databases.create_database(glance.engine, tmp_path_factory.mktemp('import-cat'))
    registry = store_kit_registry(glance)
    db = None
    try:
        code, out, err = run_import(glance, url)
        assert code == 0, err
        db = Catalog(url, resolver=registry)
        yield db, registry, json.loads(out)
    finally:
        mp.undo()
        if db is not None:
            db.dispose()
        registry.close()
        databases.drop_database(glance.engine, url)


def glance_rows(glance, table, **where):
    """Typed rows of one of glance's tables (as the importer reads them)."""
    t = importer.G_CHILDREN.get(table, importer.G_IMAGES)
    eng = glance.db()
    try:
        with eng.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(t).where(
                *[t.c[k] == v for k, v in where.items()]).order_by(t.c.id)).mappings()]
    finally:
        eng.dispose()


def catalog_rows(db, table, **where):
    t = models.metadata.tables[table]
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(
            *[t.c[k] == v for k, v in where.items()]).order_by(t.c.id)).mappings()]


def live_glance_ids(glance):
    return sorted(r['id'] for r in glance_rows(glance, 'images', deleted=False))


def stamp(when):
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def test_summary_counts_what_glance_holds(glance, filled, imported):
    _, _, summary = imported
    live = live_glance_ids(glance)
    assert summary['images']['imported'] == len(live)
    assert summary['images']['refused'] == 0 and summary['refused_images'] == []
    assert summary['deleted_left_out']['images'] >= 1          # imp-deleted
    assert summary['deleted_left_out']['tags'] >= 1            # beta
    assert summary['deleted_left_out']['members'] >= 1         # p4
    assert summary['stores']['unresolved'] == 0


def test_every_image_row_kept_exactly(glance, imported):
    """Each column of each live image, as glance's database holds it."""
    db, _, _ = imported
    for row in glance_rows(glance, 'images', deleted=False):
        got = db.image_get(ADMIN, row['id'])
        for key, value in row.items():
            assert got[key] == value, (row['id'], key)
        props = {p['name']: p['value']
                 for p in glance_rows(glance, 'properties', image_id=row['id'], deleted=False)}
        assert got['properties'] == props
        tags = [t['value'] for t in glance_rows(glance, 'tags', image_id=row['id'],
                                                deleted=False)]
        assert sorted(got['tags']) == sorted(set(tags))
        locs = [(loc['value'], loc['status']) for loc in
                glance_rows(glance, 'locations', image_id=row['id'], deleted=False)]
        assert sorted((loc['url'], loc['status']) for loc in got['locations']) == sorted(locs)


def test_every_image_shows_the_same(glance, imported):
    """glance's GET and store_kit's image_get, field by field."""
    db, _, _ = imported
    gc = glance.client()
    for image_id in live_glance_ids(glance):
        shown = dict(gc.images.get(image_id))
        mine = db.image_get(ADMIN, image_id)
        for key in GLANCE_BASE - {'tags', 'stores', 'file', 'schema', 'self', 'direct_url',
                                  'locations', 'created_at', 'updated_at'}:
            assert mine[key] == shown.get(key), (image_id, key)
        assert stamp(mine['created_at']) == shown['created_at']
        assert stamp(mine['updated_at']) == shown['updated_at']
        assert sorted(mine['tags']) == sorted(shown['tags'])
        assert mine['properties'] == {k: v for k, v in shown.items() if k not in GLANCE_BASE}
        stores = {loc['metadata'].get('store') for loc in mine['locations']}
        assert stores == set(filter(None, (shown.get('stores') or '').split(','))), image_id


def glance_list(client, **filters):
    return {i.id for i in client.images.list(filters=filters)}


def test_every_image_lists_the_same(glance, filled, imported):
    """What each project lists (default filters, and by visibility), in
    glance and in store_kit.  (An admin's unfiltered list differs by the
    catalog's design: glance leaves out other projects' community images,
    store_kit's admin sees everything; both list them with
    ``visibility=community``.)"""
    db, _, _ = imported
    for project in PROJECTS:
        admin = project == 'admin'
        client = glance.client() if admin else glance.client(project=project)
        ctx = RequestContext(project_id=project, is_admin=admin)
        for visibility in (() if admin else (None, 'all')) + (
                'public', 'private', 'shared', 'community'):
            filters = {} if visibility is None else {'visibility': visibility}
            theirs = glance_list(client, **filters)
            listed = db.image_get_all(ctx, filters=dict(filters, os_hidden=False))
            mine = {i['id'] for i in listed}
            assert mine == theirs, (project, visibility)
        hidden = {i['id'] for i in db.image_get_all(ctx, filters={'os_hidden': True})}
        assert hidden == glance_list(client, os_hidden='true'), project
    p2 = {i['id'] for i in db.image_get_all(RequestContext(project_id='p2'))}
    assert filled['shared'] in p2 and filled['community'] not in p2


def test_members_kept(glance, filled, imported):
    db, _, _ = imported
    gc = glance.client()
    for image_id in live_glance_ids(glance):
        if db.image_get(ADMIN, image_id)['visibility'] != 'shared':
            continue            # glance: "Only shared images have members"
        theirs = {m.member_id: (m.status, m.created_at, m.updated_at)
                  for m in gc.image_members.list(image_id)}
        mine = {m['member']: (m['status'], stamp(m['created_at']), stamp(m['updated_at']))
                for m in db.image_member_find(ADMIN, image_id=image_id)}
        assert mine == theirs, image_id
    statuses = {m['member']: m['status']
                for m in db.image_member_find(ADMIN, image_id=filled['shared'])}
    assert statuses == {'p2': 'accepted', 'p3': 'rejected', 'p5': 'pending'}


def test_every_image_downloads_the_same(glance, filled, imported):
    """Every image glance serves, store_kit serves byte for byte (admin);
    the shared image to its member, not to others, on both sides."""
    db, registry, _ = imported
    service = ImageService(db, registry)
    gc = glance.client()
    served = 0
    for image_id in live_glance_ids(glance):
        try:
            theirs = download(gc, image_id)
        except Exception:     # noqa: BLE001 -- glance serves no data: nothing to compare
            theirs = None
        if not theirs:
            with pytest.raises(exceptions.StoreKitError):
                b''.join(service.download(ADMIN, image_id))
            continue
        assert b''.join(service.download(ADMIN, image_id)) == theirs, image_id
        served += 1
    assert served >= 6
    shared = filled['shared']
    data = download(glance.client(project='p2'), shared)
    assert b''.join(service.download(RequestContext(project_id='p2'), shared)) == data
    with pytest.raises(exceptions.ImageNotFound):
        service.download(RequestContext(project_id='p9'), shared)
    with pytest.raises(Exception) as info:
        download(glance.client(project='p9'), shared)
    assert getattr(info.value, 'code', None) == 404
    copied = db.image_get(ADMIN, filled['copied'])
    assert {loc['metadata']['store'] for loc in copied['locations']} == {'s3b', 'pool10'}
    assert copied['os_hash_value'] == hashlib.sha512(
        payload((1 << 20) + 9, 'imp-copied')).hexdigest()


def test_rerun_resumes_and_never_duplicates(glance, imported):
    db, _, first = imported
    tables = ('images', 'properties', 'tags', 'members', 'locations')
    before = {t: len(catalog_rows(db, t)) for t in tables}
    code, out, err = run_import(glance, db.url)
    assert code == 0, err
    again = json.loads(out)
    assert again['images'] == {'imported': 0, 'refused': 0,
                               'skipped': first['images']['imported']
                               + first['images']['skipped']}
    assert again['already_imported'] == first['images']['imported']
    assert {t: len(catalog_rows(db, t)) for t in tables} == before


def glance_dump(glance):
    """Every row of the tables the importer reads."""
    return {t: glance_rows(glance, t) for t in ('images',) + tuple(importer.G_CHILDREN)}


def test_include_deleted_carries_glance_deletions(glance, filled, tmp_path, monkeypatch):
    """Deleted images, tags, members and locations come over with their
    flags and times; glance's database is left exactly as it was."""
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('STORE_KIT_HOME', str(tmp_path / 'sk'))
    url = 'sqlite:///%s' % (tmp_path / 'all.db')
    before = glance_dump(glance)
    code, out, err = run_import(glance, url, '--include-deleted')
    assert code == 0, err
    assert glance_dump(glance) == before
    db = Catalog(url)
    try:
        gone = glance_rows(glance, 'images', id=filled['deleted'])[0]
        got = db.image_get(ADMIN, filled['deleted'], force_show_deleted=True)
        assert (got['deleted'], got['status'], got['deleted_at']) == (
            True, gone['status'], gone['deleted_at'])
        assert gone['status'] == 'deleted' and gone['deleted_at'] is not None
        locs = catalog_rows(db, 'locations', image_id=filled['deleted'])
        assert [loc['status'] for loc in locs] == ['deleted']
        tags = catalog_rows(db, 'tags', image_id=filled['deleted'])
        assert [(t['value'], t['deleted']) for t in tags] == [('gone', True)]
        beta = catalog_rows(db, 'tags', image_id=filled['public'], value='beta')
        assert [t['deleted'] for t in beta] == [True]
        members = {m['member']: (m['deleted'], m['status'])
                   for m in catalog_rows(db, 'members', image_id=filled['shared'])}
        assert members == {'p2': (False, 'accepted'), 'p3': (False, 'rejected'),
                           'p4': (True, 'pending'), 'p5': (False, 'pending')}
        assert db.image_get(ADMIN, filled['public'])['tags'] == ['alpha']
        summary = json.loads(out)
        assert summary['images']['imported'] == len(glance_rows(glance, 'images'))
    finally:
        db.dispose()
