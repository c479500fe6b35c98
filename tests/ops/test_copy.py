"""Copying images between stores and evacuating a store: verified, resumable,
safe with several workers, consistent when images change under it."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from moto import mock_aws

from store_kit import check, copy, exceptions
from store_kit.catalog import Catalog
from store_kit.context import RequestContext
from store_kit.images import ImageService
from store_kit.scrubber import Scrubber
from tests import helpers
from tests.ops.conftest import STORES_CONF, files_under

P1 = RequestContext(project_id='p1')
ADMIN = RequestContext(project_id='admin', is_admin=True)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def svc(db, registry):
    return ImageService(db, registry)


def upload(svc, n, size=1000, store='fast'):
    return {svc.upload(P1, io.BytesIO(os.urandom(size + i)), store=store)['id']: None
            for i in range(n)}


def stores_of(db, registry, image_id):
    return sorted(registry.store_of(loc) for loc in db.image_get(ADMIN, image_id)['locations'])


def data_of(svc, image_id):
    return b''.join(svc.download(P1, image_id))


def test_copy_adds_a_verified_location_and_skips_what_is_done(svc, db, registry):
    ids = list(upload(svc, 3))
    before = {i: data_of(svc, i) for i in ids}
    report = copy.copy_images(db, registry, ids, 'cold')
    assert (report.copied, report.skipped, report.failed) == (3, 0, 0)
    assert report.bytes == sum(len(d) for d in before.values())
    for image_id in ids:
        assert stores_of(db, registry, image_id) == ['cold', 'fast']
        cold = [loc for loc in db.image_get(ADMIN, image_id)['locations']
                if loc['metadata']['store'] == 'cold'][0]
        chunks, _ = registry.get(cold['url'])
        assert b''.join(chunks) == before[image_id]
    again = copy.copy_images(db, registry, ids, 'cold')
    assert (again.copied, again.skipped, again.bytes) == (0, 3, 0)
    assert list(check.run(db, registry, grace=0)) == []


def test_corrupt_source_is_reported_and_leaves_nothing(svc, db, registry, tmp_path):
    good, bad = list(upload(svc, 2))
    path = db.image_get(ADMIN, bad)['locations'][0]['url'][len('file://'):]
    with open(path, 'r+b') as f:
        f.write(b'XXXX')                          # same size, other bytes
    report = copy.copy_images(db, registry, [bad, good], 'cold')
    assert (report.copied, report.failed) == (1, 1)
    assert report.failures[0][0] == bad and 'md5' in report.failures[0][1]
    assert stores_of(db, registry, bad) == ['fast']
    assert files_under(tmp_path / 'cold') == [good]


def test_evacuate_with_delete_source_then_scrub(svc, db, registry, tmp_path):
    ids = upload(svc, 4)
    data = {i: data_of(svc, i) for i in ids}
    stay = svc.upload(P1, io.BytesIO(b'elsewhere'), store='cold')['id']
    dry = copy.evacuate(db, registry, 'fast', 'cold', dry_run=True)
    assert (dry.planned, dry.copied) == (4, 0)
    assert len(files_under(tmp_path / 'cold')) == 1            # dry run wrote nothing
    report = copy.evacuate(db, registry, 'fast', 'cold', delete_source=True, workers=2)
    assert (report.copied, report.skipped, report.failed) == (4, 0, 0)
    for image_id in ids:
        assert stores_of(db, registry, image_id) == ['cold']   # fast one is pending
    assert Scrubber(db, registry).run_once() == 4
    assert files_under(tmp_path / 'fast') == []
    for image_id, blob in data.items():
        assert data_of(svc, image_id) == blob
    assert stores_of(db, registry, stay) == ['cold']
    assert list(check.run(db, registry, grace=0)) == []
    rerun = copy.evacuate(db, registry, 'fast', 'cold')
    assert (rerun.copied, rerun.skipped) == (0, 0)             # nothing left in fast


def test_leftovers_of_a_killed_copy_are_removed_unless_referenced(svc, db, registry, tmp_path):
    a, b = list(upload(svc, 2))
    (tmp_path / 'cold' / a).write_bytes(b'complete but never recorded')
    (tmp_path / 'cold' / ('.%s.abcd1234.tmp' % a)).write_bytes(b'partial')
    # b's id in cold is data another image references: never overwritten
    (tmp_path / 'cold' / b).write_bytes(b'someone else')
    db.image_create(ADMIN, {'owner': 'p2', 'locations': [
        {'url': 'file://%s/cold/%s' % (tmp_path, b)}]})
    report = copy.copy_images(db, registry, [a, b], 'cold')
    assert report.copied == 1 and report.failures[0][0] == b
    assert 'reference' in report.failures[0][1]
    assert sorted(files_under(tmp_path / 'cold')) == sorted([a, b])
    assert (tmp_path / 'cold' / b).read_bytes() == b'someone else'


def test_two_evacuations_at_once_copy_each_image_once(any_engine_url, registry, tmp_path):
    db = Catalog(any_engine_url)
    svc = ImageService(db, registry)
    ids = upload(svc, 12)
    real_add = registry['cold'].add
    adds = []

    def slow_add(image_id, *args, **kwargs):
        adds.append(image_id)
        time.sleep(0.05)
        return real_add(image_id, *args, **kwargs)
    registry['cold'].add = slow_add
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(
        copy.evacuate(db, registry, 'fast', 'cold', workers=2))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.copied for r in reports) == 12 and sum(r.failed for r in reports) == 0
    assert sorted(adds) == sorted(ids)                 # never two copies of one image
    for image_id in ids:
        assert stores_of(db, registry, image_id) == ['cold', 'fast']
    assert list(check.run(db, registry, grace=0)) == []
    db.dispose()


def test_an_image_deleted_during_its_copy_gets_no_location(svc, db, registry, tmp_path):
    doomed, other = list(upload(svc, 2))
    real_add = registry['cold'].add

    def add_then_delete(image_id, *args, **kwargs):
        result = real_add(image_id, *args, **kwargs)
        if image_id == doomed:
            svc.delete(P1, doomed)
        return result
    registry['cold'].add = add_then_delete
    report = copy.copy_images(db, registry, [doomed, other], 'cold')
    assert (report.copied, report.skipped, report.failed) == (1, 1, 0)
    assert db.image_get(ADMIN, doomed)['status'] == 'deleted'
    assert files_under(tmp_path / 'cold') == [other]          # the copy was removed
    assert list(check.run(db, registry, grace=0)) == []


def test_source_location_removed_during_evacuation_keeps_a_copy(svc, db, registry):
    image = svc.upload(P1, io.BytesIO(b'two copies'), store='cold')
    image = svc.add_location(P1, image['id'], registry['cold'].add(
        'spare', io.BytesIO(b'two copies')).url)
    source = image['locations'][0]
    real_add = registry['fast'].add

    def add_while_the_owner_removes_the_source(image_id, *args, **kwargs):
        svc.remove_location(P1, image_id, source['id'])
        return real_add(image_id, *args, **kwargs)
    registry['fast'].add = add_while_the_owner_removes_the_source
    report = copy.evacuate(db, registry, 'cold', 'fast', delete_source=True)
    assert (report.copied, report.failed) == (1, 0)
    assert stores_of(db, registry, image['id']) == ['cold', 'fast']   # spare + new copy
    Scrubber(db, registry).run_once()
    assert data_of(svc, image['id']) == b'two copies'


def test_bad_arguments(db, registry):
    with pytest.raises(exceptions.UnknownStore):
        copy.copy_images(db, registry, ['x'], 'nope')
    with pytest.raises(exceptions.Invalid):
        copy.evacuate(db, registry, 'fast', 'fast')
    with pytest.raises(exceptions.Invalid):
        copy.evacuate(db, registry, 'fast', 'cold', workers=0)
    report = copy.copy_images(db, registry, ['missing-image'], 'cold')
    assert report.failures == [('missing-image', 'image not found')]


# -- s3 --------------------------------------------------------------------------

S3_CONF = STORES_CONF + """
[DEFAULT]
enabled_backends = fast:file, cold:file, s3:s3
[s3]
s3_store_host = s3.amazonaws.com
s3_store_bucket = images
s3_store_access_key = AKIACOPYEXAMPLE00001
s3_store_secret_key = copy/Secret+key
s3_store_create_bucket_on_put = true
s3_store_large_object_size = 5
s3_store_large_object_chunk_size = 5
"""


def test_file_to_s3_and_back(tmp_path, monkeypatch):
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'none'))
    with mock_aws():
        registry = helpers.make_registry(tmp_path, S3_CONF.format(root=tmp_path))
        db = Catalog('sqlite:///%s/catalog.db' % tmp_path)
        db.create_schema()
        svc = ImageService(db, registry)
        small = svc.upload(P1, io.BytesIO(b's' * 1000))['id']
        big = svc.upload(P1, io.BytesIO(os.urandom(12 << 20)))['id']     # multipart
        blobs = {i: data_of(svc, i) for i in (small, big)}
        report = copy.evacuate(db, registry, 'fast', 's3', delete_source=True)
        assert (report.copied, report.failed) == (2, 0)
        Scrubber(db, registry).run_once()
        back = copy.evacuate(db, registry, 's3', 'cold')
        assert back.copied == 2
        for image_id, blob in blobs.items():
            assert stores_of(db, registry, image_id) == ['cold', 's3']
            assert data_of(svc, image_id) == blob
        assert list(check.run(db, registry, grace=0)) == []
        db.dispose()


# -- killed mid-run; the command ----------------------------------------------------

def test_sigkill_mid_evacuation_then_rerun_finishes_cleanly(svc, db, registry, tmp_path):
    ids = upload(svc, 6, size=3 << 20)
    conf = tmp_path / 'copy.conf'
    conf.write_text(STORES_CONF.format(root=tmp_path) + (
        '\n[catalog]\nconnection = %s\n' % db.url))
    worker = (
        'import sys, time\n'
        'from store_kit.cli.main import main\n'
        'import store_kit.drivers.file as f\n'
        'real = f.FileStore._add\n'
        'def slow(self, image_id, reader):\n'
        '    if self.name == "cold": time.sleep(0.3)\n'
        '    return real(self, image_id, reader)\n'
        'f.FileStore._add = slow\n'
        'sys.exit(main(sys.argv[1:]))\n')
    proc = subprocess.Popen([sys.executable, '-c', worker, '--config-file', str(conf),
                             'evacuate', 'fast', '--to', 'cold'],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    deadline = time.monotonic() + 60
    while len([i for i in ids if 'cold' in stores_of(db, registry, i)]) < 2:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    report = copy.evacuate(db, registry, 'fast', 'cold')
    assert report.failed == 0 and report.copied + report.skipped == 6
    for image_id in ids:
        assert stores_of(db, registry, image_id) == ['cold', 'fast']
    assert sorted(n for n in files_under(tmp_path / 'cold')) == sorted(ids)
    assert list(check.run(db, registry, grace=0)) == []


def test_copy_and_evacuate_commands(svc, db, registry, tmp_path, capsys):
    from store_kit.cli import main
    ids = list(upload(svc, 2))
    conf = tmp_path / 'cli.conf'
    conf.write_text(STORES_CONF.format(root=tmp_path) + (
        '\n[catalog]\nconnection = %s\n' % db.url))
    base = ['--config-file', str(conf), '--format', 'json']
    assert main(base + ['copy', ids[0], '--to', 'cold']) == 0
    assert json.loads(capsys.readouterr().out)['copied'] == 1
    assert main(base + ['evacuate', 'fast', '--to', 'cold', '--dry-run']) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out['planned'], out['copied'], out['skipped']) == (1, 0, 1)
    assert main(base + ['evacuate', 'fast', '--to', 'cold', '--workers', '2']) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ('copied', 'skipped', 'failed')} == {
        'copied': 1, 'skipped': 1, 'failed': 0}
    assert main(base + ['copy', 'no-such-image', '--to', 'cold']) == 1
    assert json.loads(capsys.readouterr().out)['failed'] == 1
