"""store-kit check: every kind of finding on file and s3 stores, repair, and
what repair must never touch (healthy images, data another location holds,
anything younger than the grace period)."""

import datetime
import io
import json
import os
import time

import pytest
import sqlalchemy as sa
from moto import mock_aws

from store_kit import check, exceptions
from store_kit.catalog import Catalog, models
from store_kit.context import RequestContext
from store_kit.images import ImageService
from tests import helpers
from tests.ops.conftest import file_and_s3_conf, files_under

P1 = RequestContext(project_id='p1')
ADMIN = RequestContext(project_id='admin', is_admin=True)
OLD = time.time() - 3 * 86400


@pytest.fixture
def svc(db, registry):
    return ImageService(db, registry)


def path_of(image):
    return image['locations'][0]['url'][len('file://'):]


def age(path, seconds_ago=3 * 86400):
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


def make_stale(db, image_id):
    old = datetime.datetime.utcnow() - datetime.timedelta(days=3)
    with db.engine.begin() as conn:
        conn.execute(models.images.update().where(models.images.c.id == image_id)
                     .values(updated_at=old))


def kinds(report):
    return sorted((f.kind, f.image_id) for f in report)


def test_a_healthy_catalog_is_clean(svc, db, registry):
    for n in range(3):
        svc.upload(P1, io.BytesIO(b'x' * n))
    report = check.run(db, registry)
    assert list(report) == [] and report.clean
    assert report.locations == 3 and report.listed == 3


def test_every_file_store_finding_and_its_repair(svc, db, registry, tmp_path):
    healthy = svc.upload(P1, io.BytesIO(b'healthy'))
    missing = svc.upload(P1, io.BytesIO(b'missing'))
    short = svc.upload(P1, io.BytesIO(b'truncated'))
    two = svc.upload(P1, io.BytesIO(b'two copies'))
    copy = registry['cold'].add('copy-of-two', io.BytesIO(b'two copies'))
    svc.add_location(P1, two['id'], copy.url)
    os.unlink(path_of(missing))
    with open(path_of(short), 'r+b') as f:
        f.truncate(3)
    os.unlink(copy.url[len('file://'):])
    orphan = tmp_path / 'fast' / 'orphan-id'
    orphan.write_bytes(b'nobody')
    age(orphan)
    young = tmp_path / 'fast' / 'young-id'
    young.write_bytes(b'in progress')
    tmp = tmp_path / 'cold' / '.crashed-id.abc123.tmp'
    tmp.write_bytes(b'partial')
    age(tmp)
    stale = db.image_create(P1, {'status': 'saving'})
    make_stale(db, stale['id'])
    db.image_create(P1, {'status': 'saving'})           # young: not stale

    report = check.run(db, registry)
    assert kinds(report) == sorted([
        ('missing_data', missing['id']), ('missing_data', two['id']),
        ('size_mismatch', short['id']), ('orphan_data', 'orphan-id'),
        ('orphan_tmp', 'crashed-id'), ('stale_upload', stale['id'])])
    assert not report.clean and report.repaired == 0
    by_kind = {f.kind: f for f in report}
    assert by_kind['size_mismatch'].store == 'fast'
    assert '3 bytes' in by_kind['size_mismatch'].detail
    assert by_kind['orphan_tmp'].store == 'cold'

    report = check.run(db, registry, repair=True)
    assert report.clean and report.repaired == 6
    assert list(check.run(db, registry)) == []
    # what repair did
    assert db.image_get(ADMIN, missing['id'])['status'] == 'queued'
    assert db.image_get(ADMIN, short['id'])['status'] == 'queued'
    assert db.image_get(ADMIN, stale['id'])['status'] == 'killed'
    two_now = db.image_get(ADMIN, two['id'])
    assert two_now['status'] == 'active' and len(two_now['locations']) == 1
    assert not orphan.exists() and not tmp.exists() and young.exists()
    # what it left alone
    assert b''.join(svc.download(P1, healthy['id'])) == b'healthy'
    assert b''.join(svc.download(P1, two['id'])) == b'two copies'


def test_data_referenced_under_another_spelling_or_pending_delete_is_no_orphan(
        svc, db, registry, tmp_path):
    image = svc.upload(P1, io.BytesIO(b'x'))
    path = path_of(image)
    # the catalog holds it as filesystem://localhost//.../
    with db.engine.begin() as conn:
        conn.execute(models.locations.update().values(
            url='filesystem://localhost/%s/' % path.replace('/', '//')))
    pending = svc.upload(P1, io.BytesIO(b'pending'))
    ImageService(db, registry, delayed_delete=True).delete(P1, pending['id'])
    for p in (path, path_of(pending)):
        age(p)
    report = check.run(db, registry, grace=0, repair=True)
    assert list(report) == []
    assert os.path.exists(path) and os.path.exists(path_of(pending))


def test_grace_protects_recent_data_and_store_filter(svc, db, registry, tmp_path):
    (tmp_path / 'fast' / 'new-orphan').write_bytes(b'x')
    (tmp_path / 'cold' / 'old-orphan').write_bytes(b'x')
    age(tmp_path / 'cold' / 'old-orphan')
    assert kinds(check.run(db, registry)) == [('orphan_data', 'old-orphan')]
    assert kinds(check.run(db, registry, grace=0, stores=['fast'])) == [
        ('orphan_data', 'new-orphan')]
    with pytest.raises(exceptions.UnknownStore):
        check.run(db, registry, stores=['nope'])
    with pytest.raises(exceptions.Invalid):
        check.run(db, registry, grace=-1)


def test_unresolved_locations_are_counted_not_failed(db, registry):
    db.image_create(ADMIN, {'owner': 'p1', 'status': 'active', 'size': 1, 'locations': [
        {'url': 'rbd://fsid/pool/img/snap'}, {'url': 'http://user:pw@mirror/x?sig=1'}]})
    report = check.run(db, registry)
    assert list(report) == [] and dict(report.unresolved) == {'http': 1, 'rbd': 1}
    assert 'pw' not in ' '.join(report.summary_lines())


# -- s3 (moto in-process) --------------------------------------------------------

@pytest.fixture
def s3_world(tmp_path, monkeypatch):
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'none'))
    with mock_aws():
        registry = helpers.make_registry(tmp_path, file_and_s3_conf(
            tmp_path, 's3.amazonaws.com', 'AKIACHECKEXAMPLE0001', 'check/Secret+key:with/odd+chars',
            large_object_size=6, large_object_chunk_size=5))
        db = Catalog('sqlite:///%s/catalog.db' % tmp_path)
        db.create_schema()
        yield db, registry, ImageService(db, registry)
        db.dispose()


def test_every_s3_finding_and_its_repair(s3_world):
    db, registry, svc = s3_world
    store = registry['cold']
    healthy = svc.upload(P1, io.BytesIO(b'healthy'), store='cold')
    missing = svc.upload(P1, io.BytesIO(b'missing'), store='cold')
    wrong = svc.upload(P1, io.BytesIO(b'wrong size'), store='cold')
    store.client.delete_object(Bucket='images', Key=missing['id'])
    store.client.put_object(Bucket='images', Key=wrong['id'], Body=b'xx')
    store.client.put_object(Bucket='images', Key='orphan-object', Body=b'abc')
    upload = store.client.create_multipart_upload(Bucket='images', Key='killed-copy')
    time.sleep(1.1)                   # LastModified has a 1 s resolution in moto
    calls = []
    real_head = store.client.head_object
    store.client.head_object = lambda **kw: calls.append(kw) or real_head(**kw)

    report = check.run(db, registry, grace=1)
    assert calls == []                # one listing, no HEAD per object
    assert kinds(report) == sorted([
        ('missing_data', missing['id']), ('size_mismatch', wrong['id']),
        ('orphan_data', 'orphan-object'), ('orphan_multipart', 'killed-copy')])
    text = json.dumps(report.as_dict())
    assert 'Secret' not in text and 'AKIACHECK' not in text

    repaired = check.run(db, registry, grace=1, repair=True)
    assert repaired.clean
    # the retired wrong-size object had no other location: removed in the same pass
    assert kinds(repaired) == sorted(kinds(report) + [('orphan_data', wrong['id'])])
    assert list(check.run(db, registry, grace=0)) == []
    uploads = store.client.list_multipart_uploads(Bucket='images').get('Uploads', [])
    assert upload['UploadId'] not in [u['UploadId'] for u in uploads]
    keys = [o['Key'] for o in store.client.list_objects_v2(Bucket='images')['Contents']]
    assert keys == [healthy['id']]
    assert b''.join(svc.download(P1, healthy['id'])) == b'healthy'


# -- the command ---------------------------------------------------------------------

def test_check_command_exit_status_json_and_repair(db, registry, tmp_path, capsys):
    from store_kit.cli import main
    conf = tmp_path / 'check.conf'
    conf.write_text(helpers_conf(tmp_path))
    svc = ImageService(db, registry)
    image = svc.upload(P1, io.BytesIO(b'x'))
    base = ['--config-file', str(conf)]
    assert main(base + ['check']) == 0
    assert '1 locations checked' in capsys.readouterr().out
    os.unlink(path_of(image))
    assert main(base + ['--format', 'json', 'check']) == 1
    out = json.loads(capsys.readouterr().out)
    assert out['repaired'] == 0
    assert [f['kind'] for f in out['findings']] == ['missing_data']
    assert set(out['findings'][0]) == {'kind', 'store', 'image_id', 'url', 'detail'}
    assert main(base + ['check', '--repair']) == 0
    assert main(base + ['check']) == 0
    assert main(base + ['check', '--store', 'nope']) == 1
    assert "unknown store 'nope'" in capsys.readouterr().err


def helpers_conf(tmp_path):
    from tests.ops.conftest import STORES_CONF
    return STORES_CONF.format(root=tmp_path) + (
        '\n[catalog]\nconnection = sqlite:///%s/catalog.db\n' % tmp_path)


def test_repair_never_removes_data_a_location_gained_meanwhile(svc, db, registry, tmp_path):
    orphan = tmp_path / 'cold' / 'adopted-later'
    orphan.write_bytes(b'x')
    age(orphan)
    [finding] = check.run(db, registry)
    # between the check and its repair, a location takes the data
    db.image_create(ADMIN, {'owner': 'p1', 'locations': [{'url': 'file://%s' % orphan}]})
    checker = check._Checker(db, registry, {'cold'}, True, 86400, None)
    items = [i for i in registry['cold'].inventory() if i.kind == 'object']
    assert checker._remove_orphan(registry['cold'], items[0],
                                  registry.equivalent_keys(items[0].url)) is False
    assert orphan.exists()
    assert files_under(tmp_path / 'cold') == ['adopted-later']
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(models.locations)).scalar()
