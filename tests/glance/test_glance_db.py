"""Backfill and check of glance's own database (schema made by glance's
``glance-manage db_sync``) on SQLite, PostgreSQL and MariaDB."""

import datetime
import importlib.util
import json
import os
import re

import pytest

from store_kit.glance import backfill, check, database
from tests.glance import glancedb
from tests.glance.conftest import ACCESS, OLD_ACCESS, OLD_SECRET, SECRET, s3_client
from tests.helpers import make_registry

ENGINES = ('sqlite', 'postgresql', 'mariadb')


@pytest.fixture(scope='module', params=ENGINES)
def glance_db(request, tmp_path_factory):
    """A glance database (schema by glance itself) per engine."""
    url = glancedb.create(request.param, tmp_path_factory.mktemp('gdb'))
    yield url
    glancedb.drop(request.param, url)


@pytest.fixture
def gdb(glance_db):
    glancedb.clear(glance_db)
    db = database.GlanceDatabase(glance_db)
    yield db
    db.dispose()


@pytest.fixture
def stores(tmp_path, moto_port):
    """store_kit's view of a glance deployment: pool1/pool10 (datadirs
    sharing a prefix), s3a/s3b (buckets sharing one), web (http)."""
    d = tmp_path / 'data'
    registry = make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = pool1:file, pool10:file, s3a:s3, s3b:s3, web:http
        [store_kit]
        default_backend = pool1
        [pool1]
        filesystem_store_datadir = {d}/pool1
        [pool10]
        filesystem_store_datadir = {d}/pool10
        [s3a]
        s3_store_host = http://127.0.0.1:{port}
        s3_store_access_key = {ak}
        s3_store_secret_key = {sk}
        s3_store_bucket = glance
        [s3b]
        s3_store_host = http://127.0.0.1:{port}
        s3_store_access_key = {ak}
        s3_store_secret_key = {sk}
        s3_store_bucket = glance-b
        [web]
        http_store_url_prefixes = https://mirror.example.com/pub
        """.format(d=d, port=moto_port, ak=ACCESS, sk=SECRET))
    yield registry, str(d)
    registry.close()


def legacy_rows(d, port):
    """(image id, URL, metadata, status, right store) of an upgraded
    deployment's rows."""
    return [
        ('i-pool1', 'file://%s/pool1/i-pool1' % d, {}, 'active', 'pool1'),
        ('i-pool10', 'file://%s/pool10/i-pool10' % d, {}, 'active', 'pool10'),
        ('i-fs', 'filesystem://%s//pool10/./i-fs' % d, {}, 'active', 'pool10'),
        ('i-s3old', 's3://%s:%s@127.0.0.1:%d/glance-b/i-s3old'
         % (OLD_ACCESS, OLD_SECRET, port), {}, 'active', 's3b'),
        ('i-s3http', 's3+http://127.0.0.1:%d/glance/i-s3http' % port,
         {'backend_note': 'kept'}, 'active', 's3a'),
        ('i-web', 'https://MIRROR.example.com:443/pub/i-web', {}, 'active', 'web'),
        ('i-pending', 'file://%s/pool10/i-pending' % d, {}, 'pending_delete', 'pool10'),
        ('i-gone', 'file://%s/pool10/i-gone' % d, {}, 'deleted', None),
        ('i-stale', 'file://%s/pool1/i-stale' % d, {'store': 'retired'}, 'active', 'pool1'),
    ]


def insert_rows(gdb, rows, size=0):
    when = glancedb.now() - datetime.timedelta(hours=1)
    glancedb.insert(gdb.url, [glancedb.image_row(r[0], size, when=when) for r in rows],
                    [glancedb.location_row(r[0], r[1], r[2], r[3], when=when) for r in rows])


def stored(gdb):
    return {r[0]: (json.loads(r[2] or '{}'), r[3], r[4])
            for r in glancedb.rows(gdb.url).values()}


def test_backfill_names_the_owner_of_every_legacy_row(gdb, stores):
    registry, d = stores
    rows = legacy_rows(d, registry['s3a'].endpoint_port)
    insert_rows(gdb, rows)
    before = stored(gdb)
    report = backfill.run(gdb, registry)
    after = stored(gdb)
    for image_id, url, meta, status, right in rows:
        if status == 'deleted':
            assert after[image_id] == before[image_id]      # untouched
        else:
            assert after[image_id][0] == dict(meta, store=right), image_id
            assert after[image_id][2] != before[image_id][2]   # updated_at
    assert after['i-s3http'][0]['backend_note'] == 'kept'
    assert (report.scanned, report.resolved, report.unresolved) == (8, 8, 0)


def test_rows_naming_an_enabled_store_left_alone_unless_fix_wrong(gdb, stores):
    registry, d = stores
    wrong = ('i-wrong', 'file://%s/pool10/i-wrong' % d, {'store': 'pool1'}, 'active')
    right = ('i-right', 'file://%s/pool1/i-right' % d, {'store': 'pool1'}, 'active')
    rbd = ('i-ceph', 'rbd://fsid/images/i-ceph/snap', {'store': 'ceph'}, 'active')
    insert_rows(gdb, [wrong, right, rbd])
    report = backfill.run(gdb, registry, glance_stores=['ceph'])
    assert stored(gdb)['i-wrong'][0] == {'store': 'pool1'}
    assert (report.already, report.resolved, report.corrected) == (3, 0, 0)

    report = backfill.run(gdb, registry, glance_stores=['ceph'], fix_wrong=True)
    got = stored(gdb)
    assert got['i-wrong'][0] == {'store': 'pool10'}
    assert got['i-right'][0] == {'store': 'pool1'}
    assert got['i-ceph'][0] == {'store': 'ceph'}
    assert (report.already, report.corrected) == (2, 1)


def test_unresolved_rows_reported_with_image_id_and_redacted_url(gdb, stores):
    registry, d = stores
    insert_rows(gdb, [
        ('i-rbd', 'rbd://fsid/images/i-rbd/snap', {}, 'active'),
        ('i-other', 'file://%s/pool100/i-other' % d, {}, 'active'),
        ('i-key', 's3://AKIAX:TopSecret@s3.example.com/glance/i-key', {}, 'active'),
    ])
    report = backfill.run(gdb, registry)
    assert report.unresolved == 3
    listed = dict(report.unresolved_rows)
    assert listed['i-rbd'] == 'rbd://fsid/images/i-rbd/snap'
    assert listed['i-key'] == 's3://***@s3.example.com/glance/i-key'
    text = '\n'.join(report.summary_lines()) + json.dumps(report.as_dict())
    assert 'TopSecret' not in text and 'AKIAX' not in text
    assert report.as_dict()['unresolved_by_origin']['rbd://(unparseable)'] == 1
    assert all(meta == {} for meta, _, _ in stored(gdb).values())


def test_unresolved_listing_is_bounded(gdb, stores):
    registry, _ = stores
    insert_rows(gdb, [('i-%d' % i, 'rbd://f/p/i-%d/snap' % i, {}, 'active')
                      for i in range(5)])
    report = backfill.run(gdb, registry, max_listed=2, batch_size=2)
    assert report.unresolved == 5
    assert len(report.unresolved_rows) == 2 and report.unresolved_omitted == 3


def test_dry_run_writes_nothing_and_rerun_finds_nothing_left(gdb, stores):
    registry, d = stores
    insert_rows(gdb, legacy_rows(d, registry['s3a'].endpoint_port))
    before = stored(gdb)
    report = backfill.run(gdb, registry, dry_run=True, batch_size=3)
    assert report.resolved == 8 and stored(gdb) == before
    assert backfill.run(gdb, registry, batch_size=3).resolved == 8
    again = backfill.run(gdb, registry, batch_size=3)
    assert (again.resolved, again.already) == (0, 8)


def test_unreadable_metadata_left_alone(gdb, stores):
    registry, d = stores
    glancedb.insert(gdb.url, [glancedb.image_row('i-bad')], [
        glancedb.location_row('i-bad', 'file://%s/pool1/i-bad' % d, raw_meta='not json'),
        glancedb.location_row('i-bad', 'file://%s/pool1/i-bad2' % d, raw_meta='[1]')])
    report = backfill.run(gdb, registry)
    assert (report.unreadable, report.resolved) == (2, 0)
    assert sorted(r[2] for r in glancedb.rows(gdb.url).values()) == ['[1]', 'not json']


def test_unknown_schema_refused_naming_the_version(gdb, stores):
    registry, _ = stores
    eng = glancedb.engine(gdb.url)
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '2031_2_contract07'")
    try:
        with pytest.raises(database.UnknownGlanceSchema) as info:
            backfill.run(gdb, registry)
        assert '2031_2_contract07' in str(info.value)
        with pytest.raises(database.UnknownGlanceSchema):
            check.run(gdb, registry)
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '2024_1_contract01'")
        eng.dispose()


def test_database_without_alembic_table_refused(tmp_path):
    gdb = database.GlanceDatabase('sqlite:///%s/empty.db' % tmp_path)
    with pytest.raises(database.UnknownGlanceSchema) as info:
        gdb.check_schema()
    assert 'alembic_version' in str(info.value)


def test_known_revisions_cover_the_installed_glance():
    """When glance's pin moves, a new schema must be looked at, then added."""
    spec = importlib.util.find_spec('glance')
    versions = os.path.join(spec.submodule_search_locations[0], 'db', 'sqlalchemy',
                            'alembic_migrations', 'versions')
    found = set()
    for name in os.listdir(versions):
        if name.endswith('.py'):
            with open(os.path.join(versions, name)) as f:
                m = re.search(r"^revision = '([^']+)'", f.read(), re.M)
            if m:
                found.add(m.group(1))
    assert found and found <= database.KNOWN_REVISIONS


def test_check_finds_missing_and_mismatched_data(gdb, stores, moto_port):
    registry, d = stores
    os.makedirs('%s/pool10' % d, exist_ok=True)
    for name, size in (('ok', 10), ('short', 4)):
        with open('%s/pool10/i-%s' % (d, name), 'wb') as f:
            f.write(b'x' * size)
    s3 = s3_client(moto_port)
    s3.create_bucket(Bucket='glance-b')
    s3.put_object(Bucket='glance-b', Key='i-s3ok', Body=b'y' * 10)
    insert_rows(gdb, [
        ('i-ok', 'file://%s/pool10/i-ok' % d, {'store': 'pool10'}, 'active'),
        ('i-short', 'file://%s/pool10/i-short' % d, {}, 'active'),
        ('i-lost', 'file://%s/pool10/i-lost' % d, {}, 'active'),
        ('i-s3ok', 's3://%s:%s@127.0.0.1:%d/glance-b/i-s3ok'
         % (OLD_ACCESS, OLD_SECRET, moto_port), {}, 'active'),
        ('i-s3lost', 's3://127.0.0.1:%d/glance-b/i-s3lost' % moto_port,
         {'store': 's3b'}, 'active'),
        ('i-rbd', 'rbd://fsid/images/i-rbd/snap', {'store': 'ceph'}, 'active'),
        ('i-pending', 'file://%s/pool10/i-pending' % d, {}, 'pending_delete'),
    ], size=10)
    report = check.run(gdb, registry)
    found = {(f.kind, f.store, f.image_id) for f in report.findings}
    assert found == {('size_mismatch', 'pool10', 'i-short'),
                     ('missing_data', 'pool10', 'i-lost'),
                     ('missing_data', 's3b', 'i-s3lost')}
    assert report.locations == 5 and dict(report.unresolved) == {'rbd': 1}
    assert not report.clean
    assert OLD_SECRET not in json.dumps(report.as_dict())

    only = check.run(gdb, registry, stores=['s3b'])
    assert {f.image_id for f in only.findings} == {'i-s3lost'}


# -- the commands, on a glance-api.conf ------------------------------------

def write_glance_conf(tmp_path, db_url, d, port, text=None):
    path = tmp_path / 'glance-api.conf'
    path.write_text(text or """
[DEFAULT]
enabled_backends = pool1:store_kit_file, pool10:store_kit_file, ceph:rbd, s3b:store_kit_s3
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
[s3b]
s3_store_host = http://127.0.0.1:{port}
s3_store_access_key = {ak}
s3_store_secret_key = {sk}
s3_store_bucket = glance-b
[os_glance_staging_store]
filesystem_store_datadir = {d}/staging
""".format(db=db_url, d=d, port=port, ak=ACCESS, sk=SECRET))
    return str(path)


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('STORE_KIT_HOME', str(tmp_path / 'skhome'))


def test_glance_backfill_command(gdb, tmp_path, moto_port, cli_env):
    from tests.cli.test_cli import sk
    d = str(tmp_path / 'data')
    conf = write_glance_conf(tmp_path, gdb.url, d, moto_port)
    insert_rows(gdb, [
        ('i-10', 'file://%s/pool10/i-10' % d, {}, 'active'),
        ('i-1', 'file://%s/pool1/i-1' % d, {'store': 'pool1'}, 'active'),
        ('i-wrong', 'file://%s/pool10/i-wrong' % d, {'store': 'pool1'}, 'active'),
        ('i-s3', 's3://%s:%s@127.0.0.1:%d/glance-b/i-s3'
         % (OLD_ACCESS, OLD_SECRET, moto_port), {}, 'active'),
        ('i-rbd', 'rbd://fsid/images/i-rbd/snap', {}, 'active'),
        ('i-ceph', 'rbd://fsid/images/i-ceph/snap', {'store': 'ceph'}, 'active'),
    ])
    code, out, err = sk(None, '--config-file', conf, 'glance', 'backfill', '--dry-run',
                        '--format', 'json')
    assert code == 0, err
    summary = json.loads(out)
    assert (summary['scanned'], summary['already'], summary['resolved'],
            summary['unresolved']) == (6, 3, 2, 1)
    assert summary['unresolved_rows'] == [{'image_id': 'i-rbd',
                                           'url': 'rbd://fsid/images/i-rbd/snap'}]
    assert all(m.get('store') != 'pool10' for m, _, _ in stored(gdb).values())

    code, out, err = sk(None, '--config-file', conf, 'glance', 'backfill', '--fix-wrong')
    assert code == 0, err
    assert 'corrected 1 location whose recorded store did not own the URL' in out
    assert 'i-rbd  rbd://fsid/images/i-rbd/snap' in out
    got = {image_id: meta.get('store') for image_id, (meta, _, _) in stored(gdb).items()}
    assert got == {'i-10': 'pool10', 'i-1': 'pool1', 'i-wrong': 'pool10', 'i-s3': 's3b',
                   'i-rbd': None, 'i-ceph': 'ceph'}
    for secret in (SECRET, OLD_SECRET, OLD_ACCESS):
        assert secret not in out + err


def test_glance_check_command(gdb, tmp_path, moto_port, cli_env):
    from tests.cli.test_cli import sk
    d = str(tmp_path / 'data')
    conf = write_glance_conf(tmp_path, gdb.url, d, moto_port)
    os.makedirs(d + '/pool10')
    with open(d + '/pool10/i-ok', 'wb') as f:
        f.write(b'z' * 10)
    insert_rows(gdb, [('i-ok', 'file://%s/pool10/i-ok' % d, {}, 'active'),
                      ('i-rbd', 'rbd://fsid/images/i-rbd/snap', {'store': 'ceph'}, 'active')],
                size=10)
    code, out, err = sk(None, '--config-file', conf, 'glance', 'check', '--format', 'json')
    assert code == 0, err
    assert json.loads(out) == {'findings': [], 'repaired': 0, 'unresolved': {'rbd': 1}}
    os.unlink(d + '/pool10/i-ok')
    code, out, err = sk(None, '--config-file', conf, 'glance', 'check')
    assert code == 1
    assert re.search(r'missing_data\s+pool10\s+i-ok\s+file://\S+/pool10/i-ok', out)
    assert 'locations no enabled store owns (not checked): 1 rbd' in out


def test_glance_commands_refuse_unknown_schema(gdb, tmp_path, moto_port, cli_env):
    from tests.cli.test_cli import sk
    conf = write_glance_conf(tmp_path, gdb.url, str(tmp_path / 'd'), moto_port)
    eng = glancedb.engine(gdb.url)
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'future_contract09'")
    try:
        for command in ('backfill', 'check'):
            code, out, err = sk(None, '--config-file', conf, 'glance', command)
            assert code == 1
            assert 'schema version future_contract09' in err
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '2024_1_contract01'")
        eng.dispose()


def test_backfill_before_and_after_the_switch_to_multi_store(gdb, tmp_path, cli_env):
    """The pre-multi-store form (one store per driver, named after it)
    loads too: backfill runs before the switch, and again after it."""
    from tests.cli.test_cli import sk
    d = str(tmp_path / 'data')
    insert_rows(gdb, [('i-a', 'file://%s/images/i-a' % d, {}, 'active')])
    legacy = write_glance_conf(tmp_path, gdb.url, d, 0, text="""
[database]
connection = {db}
[glance_store]
stores = file, http
default_store = file
filesystem_store_datadir = {d}/images
""".format(db=gdb.url, d=d))
    assert sk(None, '--config-file', legacy, 'glance', 'backfill')[0] == 0
    assert stored(gdb)['i-a'][0] == {'store': 'file'}
    multi = write_glance_conf(tmp_path, gdb.url, d, 0, text="""
[DEFAULT]
enabled_backends = fast:store_kit_file, web:store_kit_http
[database]
connection = {db}
[glance_store]
default_backend = fast
[fast]
filesystem_store_datadir = {d}/images
""".format(db=gdb.url, d=d))
    assert sk(None, '--config-file', multi, 'glance', 'backfill')[0] == 0
    assert stored(gdb)['i-a'][0] == {'store': 'fast'}
