"""Scrubber: what it deletes, when, retries, leases and many nodes at once."""

import collections
import concurrent.futures
import datetime
import io
import multiprocessing
import os
import time

import pytest
import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import Catalog, models
from store_kit.images import ImageService
from store_kit.scrubber import Scrubber
from store_kit.location import url_key
from tests import helpers
from tests.catalog.helpers import count_rows
from tests.ops import scrub_worker
from tests.ops.conftest import STORES_CONF, files_under

locations = models.locations


@pytest.fixture
def delayed(db, registry):
    return ImageService(db, registry, delayed_delete=True)


def location_row(db, location_id):
    with db.engine.connect() as conn:
        return conn.execute(sa.select(locations).where(
            locations.c.id == location_id)).mappings().one()


def test_scrubs_deleted_images_and_locations_removed_from_live_ones(
        delayed, db, registry, admin, p1, tmp_path):
    gone = delayed.upload(p1, io.BytesIO(b'gone'))
    live = delayed.upload(p1, io.BytesIO(b'live'))
    copy = registry['cold'].add('copy', io.BytesIO(b'live'))
    live = delayed.add_location(p1, live['id'], copy.url)
    cold = next(x for x in live['locations'] if x['metadata']['store'] == 'cold')
    delayed.delete(p1, gone['id'])
    delayed.remove_location(p1, live['id'], cold['id'])
    assert len(files_under(tmp_path / 'fast')) == 2
    assert len(files_under(tmp_path / 'cold')) == 1

    assert Scrubber(db, registry).run_once() == 2
    assert files_under(tmp_path / 'cold') == []
    assert len(files_under(tmp_path / 'fast')) == 1
    assert db.image_get(admin, gone['id'])['status'] == 'deleted'
    assert db.image_get(admin, live['id'])['status'] == 'active'
    assert count_rows(db, 'locations', status='pending_delete') == 0
    assert Scrubber(db, registry).run_once() == 0


def test_waits_for_scrub_time(delayed, db, registry, admin, p1, tmp_path):
    image = delayed.upload(p1, io.BytesIO(b'x'))
    delayed.delete(p1, image['id'])
    assert Scrubber(db, registry, scrub_time=3600).run_once() == 0
    assert len(files_under(tmp_path / 'fast')) == 1
    assert db.image_get(admin, image['id'])['status'] == 'pending_delete'
    assert Scrubber(db, registry, scrub_time=0).run_once() == 1


def test_data_already_gone_counts_as_done(delayed, db, registry, admin, p1):
    image = delayed.upload(p1, io.BytesIO(b'x'))
    os.unlink(image['locations'][0]['url'][len('file://'):])
    delayed.delete(p1, image['id'])
    assert Scrubber(db, registry).run_once() == 1
    assert db.image_get(admin, image['id'])['status'] == 'deleted'


def test_failure_is_recorded_and_retried_with_backoff(
        delayed, db, registry, admin, p1, tmp_path, monkeypatch):
    image = delayed.upload(p1, io.BytesIO(b'x'))
    loc_id = image['locations'][0]['id']
    delayed.delete(p1, image['id'])

    def broken(loc):
        raise exceptions.BackendError('cannot reach s3://AKIA:hunter2@s3.example/b/k')
    monkeypatch.setattr(registry['fast'], '_delete', broken)
    scrubber = Scrubber(db, registry, retry_seconds=60)
    before = datetime.datetime.utcnow()
    assert scrubber.run_once() == 0
    row = location_row(db, loc_id)
    assert row['status'] == 'pending_delete'
    assert row['attempts'] == 1
    assert 'cannot reach' in row['last_error'] and 'hunter2' not in row['last_error']
    assert row['next_attempt_at'] >= before + datetime.timedelta(seconds=59)
    assert row['lease_owner'] is None
    assert scrubber.run_once() == 0              # not due yet: no second attempt
    assert location_row(db, loc_id)['attempts'] == 1

    with db.engine.begin() as conn:              # time passes
        conn.execute(locations.update().values(next_attempt_at=before))
    assert scrubber.run_once() == 0
    row = location_row(db, loc_id)
    assert row['attempts'] == 2                  # backoff doubles
    assert row['next_attempt_at'] >= before + datetime.timedelta(seconds=119)

    monkeypatch.undo()
    with db.engine.begin() as conn:
        conn.execute(locations.update().values(next_attempt_at=before))
    assert scrubber.run_once() == 1
    assert files_under(tmp_path / 'fast') == []
    assert db.image_get(admin, image['id'])['status'] == 'deleted'


def test_work_of_a_dead_scrubber_is_taken_over_when_its_lease_expires(
        delayed, db, registry, admin, p1, tmp_path):
    image = delayed.upload(p1, io.BytesIO(b'x'))
    delayed.delete(p1, image['id'])
    claimed = db.claim_pending_deletes('dead-node', None, 10, lease_seconds=1)
    assert [c['image_id'] for c in claimed] == [image['id']]
    assert Scrubber(db, registry).run_once() == 0       # lease still live
    time.sleep(1.2)
    assert Scrubber(db, registry).run_once() == 1
    assert files_under(tmp_path / 'fast') == []
    assert not db.complete_pending_delete(claimed[0]['id'], 'dead-node')


def test_restore_then_scrub_leaves_the_image_alone(delayed, db, registry, p1):
    image = delayed.upload(p1, io.BytesIO(b'x'))
    delayed.delete(p1, image['id'])
    Scrubber(db, registry).restore(p1, image['id'])
    assert Scrubber(db, registry).run_once() == 0
    assert b''.join(delayed.download(p1, image['id'])) == b'x'


def test_bad_arguments_are_refused(db, registry):
    with pytest.raises(exceptions.Invalid, match='batch_size'):
        Scrubber(db, registry, batch_size=0)


# -- many scrubbers, one catalog -------------------------------------------------

IMAGES, PER_IMAGE, WORKERS = 400, 10, 4


def make_pending(url, tmp_path):
    """IMAGES images of PER_IMAGE file locations, written in bulk: every
    other image deleted (all its locations pending), the rest live with half
    their locations removed (pending).  Returns the pending URLs."""
    datadir = tmp_path / 'fast'
    datadir.mkdir(exist_ok=True)
    now = datetime.datetime.utcnow()
    image_rows, loc_rows, pending = [], [], []
    for i in range(IMAGES):
        gone = bool(i % 2)
        image_id = '00000000-0000-0000-0000-%012d' % i
        image_rows.append({
            'id': image_id, 'name': 'i%d' % i, 'owner': 'p1', 'size': 1,
            'status': 'pending_delete' if gone else 'active', 'visibility': 'shared',
            'min_disk': 0, 'min_ram': 0, 'protected': False, 'os_hidden': False,
            'created_at': now, 'updated_at': now, 'deleted': gone,
            'deleted_at': now if gone else None})
        for j in range(PER_IMAGE):
            path = datadir / ('%d-%d' % (i, j))
            path.write_bytes(b'%d' % j)
            url_ = 'file://%s' % path
            status = 'pending_delete' if gone or j < PER_IMAGE // 2 else 'active'
            if status == 'pending_delete':
                pending.append(url_)
            loc_rows.append({
                'image_id': image_id, 'url': url_, 'url_key': url_key(url_),
                'meta_data': {'store': 'fast'},
                'status': status, 'attempts': 0, 'created_at': now, 'updated_at': now,
                'delete_time': now if status == 'pending_delete' else None})
    db = Catalog(url)
    with db.engine.begin() as conn:
        conn.execute(models.images.insert(), image_rows)
        conn.execute(locations.insert(), loc_rows)
    db.dispose()
    return pending


def test_four_scrubber_processes_delete_each_location_exactly_once(
        any_engine_url, tmp_path):
    pending = make_pending(any_engine_url, tmp_path)
    db = Catalog(any_engine_url)
    # a scrubber that died holding a batch: its work must not be lost
    assert len(db.claim_pending_deletes('dead-node', None, 50, lease_seconds=2)) == 50
    conf_text = STORES_CONF.format(root=tmp_path)
    logs = [str(tmp_path / ('scrub-%d.log' % i)) for i in range(WORKERS)]
    deadline = time.time() + 60
    ctx = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
        futures = [pool.submit(scrub_worker.run, any_engine_url,
                               str(tmp_path / ('w%d' % i)), conf_text, logs[i], deadline)
                   for i in range(WORKERS)]
        counts = [f.result() for f in futures]

    deleted = collections.Counter()
    for path in logs:
        if os.path.exists(path):
            with open(path) as f:
                deleted.update(f.read().split())
    assert sum(counts) == len(pending)
    assert sorted(deleted) == sorted(pending)
    assert max(deleted.values()) == 1, 'a location was deleted twice'
    assert sum(1 for c in counts if c) >= 2, 'the work was not shared'
    assert count_rows(db, 'locations', status='pending_delete') == 0
    assert count_rows(db, 'locations', status='active') == IMAGES // 2 * PER_IMAGE // 2
    assert count_rows(db, 'images', status='deleted') == IMAGES // 2
    assert count_rows(db, 'images', status='active') == IMAGES // 2
    assert len(files_under(tmp_path / 'fast')) == IMAGES // 2 * PER_IMAGE // 2
    db.dispose()


def test_from_conf_names_a_bad_option(db, registry, tmp_path):
    conf = helpers.make_conf(tmp_path, STORES_CONF.format(root=tmp_path)
                             + '\n[scrubber]\nlease_seconds = soon\n')
    with pytest.raises(exceptions.BadStoreConfiguration,
                       match=r"\[scrubber\] lease_seconds: invalid value 'soon'"):
        Scrubber.from_conf(conf, db, registry)
