"""The scrubber never destroys data another image still needs.

Finding 1 (one project destroying another's data), the deleting half: data
is deleted only when no other non-deleted location references it under any
spelling.  Finding 8: a slow store delete must never let a restore in (the
lease is renewed while deleting, and re-checked before).  Leases of dead
processes of this host are taken over at once; another host's only once
expired.
"""

import io
import multiprocessing
import os
import signal
import threading
import time

import pytest

from store_kit import exceptions
from store_kit.context import RequestContext
from store_kit.images import ImageService
from store_kit.scrubber import Scrubber
from tests.ops.conftest import files_under

VICTIM = RequestContext(project_id='victim')
MALLORY = RequestContext(project_id='mallory')
ADMIN = RequestContext(project_id='admin', is_admin=True)


@pytest.fixture
def svc(db, registry):
    return ImageService(db, registry, delayed_delete=True)


def path_of(image):
    return image['locations'][0]['url'][len('file://'):]


def test_mallory_cannot_attach_and_delete_the_victims_data(svc, db, registry):
    victim = svc.upload(VICTIM, io.BytesIO(b'v' * 4096), visibility='public')
    mine = svc.upload(MALLORY, io.BytesIO(b'm' * 4096))
    with pytest.raises(exceptions.Forbidden, match=victim['id']):
        svc.add_location(MALLORY, mine['id'], 'file://%s' % path_of(victim))
    svc.delete(MALLORY, mine['id'])
    assert Scrubber(db, registry).run_once() == 1
    assert b''.join(svc.download(VICTIM, victim['id'])) == b'v' * 4096


@pytest.mark.parametrize('spelling', ['file://{p}', 'file://localhost{p}', 'file://{d}/./{n}',
                                      'filesystem://{d}//{n}'])
def test_data_shared_by_an_admin_survives_the_other_images_delete(
        svc, db, registry, tmp_path, spelling):
    victim = svc.upload(VICTIM, io.BytesIO(b'v' * 4096), visibility='public')
    path = path_of(victim)
    url = spelling.format(p=path, d=os.path.dirname(path), n=os.path.basename(path))
    shared = db.image_create(ADMIN, {'owner': 'mallory', 'size': 4096, 'status': 'active',
                                     'locations': [{'url': url}]})
    svc.delete(MALLORY, shared['id'])
    assert Scrubber(db, registry).run_once() == 1       # the location is retired...
    assert os.path.exists(path)                          # ...the victim's data kept
    assert db.image_get(ADMIN, shared['id'])['status'] == 'deleted'
    assert b''.join(svc.download(VICTIM, victim['id'])) == b'v' * 4096
    # once nobody else references it, deleting the victim removes the data
    svc.delete(VICTIM, victim['id'])
    assert Scrubber(db, registry).run_once() == 1
    assert not os.path.exists(path)


def test_symlinked_datadir_spellings_are_the_same_data(db, tmp_path):
    from tests import helpers
    real = tmp_path / 'real'
    real.mkdir()
    os.symlink(real, tmp_path / 'link')
    registry = helpers.make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = fast:file
        [store_kit]
        default_backend = fast
        [fast]
        filesystem_store_datadir = %s/link
        filesystem_store_fsync = false
    """ % tmp_path)
    db.resolver = registry
    svc = ImageService(db, registry, delayed_delete=True)
    victim = svc.upload(VICTIM, io.BytesIO(b'v' * 10), visibility='public')
    assert path_of(victim).startswith(str(tmp_path / 'link'))
    mine = svc.upload(MALLORY, io.BytesIO(b'm' * 10))
    alias = 'file://%s/%s' % (real, victim['id'])
    with pytest.raises(exceptions.Forbidden, match=victim['id']):
        db.image_location_add(MALLORY, mine['id'], {'url': alias})
    shared = db.image_create(ADMIN, {'owner': 'mallory', 'locations': [{'url': alias}]})
    svc.delete(MALLORY, shared['id'])
    Scrubber(db, registry).run_once()
    assert b''.join(svc.download(VICTIM, victim['id'])) == b'v' * 10


def test_restore_never_loses_to_a_slow_delete(svc, db, registry, monkeypatch):
    """Finding 8: one store delete longer than the lease."""
    image = svc.upload(VICTIM, io.BytesIO(b'x' * 100))
    svc.delete(VICTIM, image['id'])
    store = registry['fast']
    real_delete = store._delete
    deleting = threading.Event()

    def slow_delete(loc):
        deleting.set()
        time.sleep(2.5)                  # > 2 leases of 1 s
        real_delete(loc)
    monkeypatch.setattr(store, '_delete', slow_delete)
    scrubber = Scrubber(db, registry, lease_seconds=1)
    worker = threading.Thread(target=scrubber.run_once)
    worker.start()
    assert deleting.wait(10)
    refused = 0
    while worker.is_alive():
        try:
            svc.restore(VICTIM, image['id'])
        except exceptions.Conflict:
            refused += 1
        else:
            break
        time.sleep(0.2)
    worker.join()
    assert refused >= 5
    final = db.image_get(ADMIN, image['id'])
    assert final['status'] == 'deleted' and final['locations'] == []
    assert files_under(os.path.dirname(path_of(image))) == []


def test_restore_after_claim_but_before_delete_wins_and_keeps_the_data(
        svc, db, registry, monkeypatch):
    """The re-check under the lease: a location restored after it was claimed
    (its lease expired) is left alone."""
    image = svc.upload(VICTIM, io.BytesIO(b'x' * 100))
    svc.delete(VICTIM, image['id'])
    [claimed] = db.claim_pending_deletes('slow-node:1:x', None, 10, lease_seconds=1)
    time.sleep(1.1)
    svc.restore(VICTIM, image['id'])
    scrubber = Scrubber(db, registry, owner='slow-node:1:x')
    assert scrubber.scrub_location(claimed) is False
    assert b''.join(svc.download(VICTIM, image['id'])) == b'x' * 100


def _claim_and_hang(catalog_url, ready):
    from store_kit.catalog import Catalog
    from store_kit.scrubber import default_owner
    db = Catalog(catalog_url)
    db.claim_pending_deletes(default_owner(), None, 10, lease_seconds=3600)
    ready.set()
    time.sleep(600)


def test_a_dead_scrubber_of_this_host_is_taken_over_at_once(svc, db, registry):
    image = svc.upload(VICTIM, io.BytesIO(b'x'))
    other = svc.upload(VICTIM, io.BytesIO(b'y'))
    svc.delete(VICTIM, image['id'])
    svc.delete(VICTIM, other['id'])
    ctx = multiprocessing.get_context('spawn')
    ready = ctx.Event()
    proc = ctx.Process(target=_claim_and_hang, args=(db.url, ready))
    proc.start()
    try:
        assert ready.wait(60)
        assert Scrubber(db, registry).run_once() == 0        # alive: its lease holds
        with pytest.raises(exceptions.Conflict):
            svc.restore(VICTIM, other['id'])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    svc.restore(VICTIM, other['id'])                         # dead: lease given up
    assert Scrubber(db, registry).run_once() == 1            # no hour-long wait
    assert db.image_get(ADMIN, image['id'])['status'] == 'deleted'
    assert b''.join(svc.download(VICTIM, other['id'])) == b'y'


def test_another_hosts_lease_is_waited_out(svc, db, registry):
    image = svc.upload(VICTIM, io.BytesIO(b'x'))
    svc.delete(VICTIM, image['id'])
    db.claim_pending_deletes('elsewhere:%d:scrubber-1' % os.getpid(), None, 10,
                             lease_seconds=1)
    assert Scrubber(db, registry).run_once() == 0
    time.sleep(1.1)
    assert Scrubber(db, registry).run_once() == 1
