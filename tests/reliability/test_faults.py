"""Faults: processes killed mid-write, an S3 endpoint dying mid-upload, a full
or read-only disk, catalog connections dropped by the server.

After each, ``check --repair`` leaves ``check`` clean, no healthy image is
touched and no byte of an active image is lost (see doc/reliability.md).
"""

import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from store_kit import check, exceptions
from store_kit.catalog import Catalog, models
from store_kit.context import RequestContext
from store_kit.images import ImageService
from store_kit.scrubber import Scrubber
from tests import helpers
from tests.catalog import databases
from tests.moto_server import moto_server
from tests.ops.conftest import STORES_CONF, file_and_s3_conf, files_under
from tests.reliability.proxy import Proxy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VICTIM = RequestContext(project_id='victim')
ADMIN = RequestContext(project_id='admin', is_admin=True)
MiB = 1 << 20
S3_ACCESS = 'AKIAFAULTSUITE000001'
S3_SECRET = 'fault/Suite+secret:key/value'


def healthy_images(svc, n=3, store=None):
    """Images whose bytes must survive whatever the test does."""
    out = {}
    for i in range(n):
        data = os.urandom(1000 + i)
        out[svc.upload(VICTIM, io.BytesIO(data), store=store)['id']] = data
    return out


def assert_recovers(db, registry, svc, healthy, expect):
    """check finds *expect* (kinds), repair fixes all, check is then clean
    and every healthy image still downloads byte-equal."""
    found = check.run(db, registry, grace=0)
    assert sorted(f.kind for f in found) == sorted(expect), found.as_dict()
    assert check.run(db, registry, grace=0, repair=True).clean
    assert list(check.run(db, registry, grace=0)) == []
    for image_id, data in healthy.items():
        assert db.image_get(ADMIN, image_id)['status'] == 'active'
        assert b''.join(svc.download(VICTIM, image_id)) == data


def write_conf(tmp_path, text):
    path = tmp_path / 'faults.conf'
    path.write_text('\n'.join(line.strip() for line in text.splitlines()))
    return str(path)


def start_worker(mode, conf_file, catalog_url, marker, size, store=None):
    args = [sys.executable, '-m', 'tests.reliability.fault_worker', mode, conf_file,
            catalog_url, str(marker), str(size)] + ([store] if store else [])
    return subprocess.Popen(args, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(marker, proc, timeout=60):
    end = time.monotonic() + timeout
    while not os.path.exists(marker):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < end, 'worker never reached the fault point'
        time.sleep(0.05)


@pytest.fixture
def svc(db, registry):
    return ImageService(db, registry)


# -- killed processes, file store ------------------------------------------------

def test_sigkill_mid_file_add(svc, db, registry, tmp_path):
    healthy = healthy_images(svc)
    conf = write_conf(tmp_path, STORES_CONF.format(root=tmp_path))
    marker = tmp_path / 'half-written'
    proc = start_worker('stall', conf, db.url, marker, 64 * MiB)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    leftovers = [n for n in files_under(tmp_path / 'fast') if n.endswith('.tmp')]
    assert len(leftovers) == 1                       # the partial file
    assert_recovers(db, registry, svc, healthy, ['orphan_tmp', 'stale_upload'])
    assert [n for n in files_under(tmp_path / 'fast') if n.endswith('.tmp')] == []


def test_sigkill_between_store_add_and_catalog_commit(svc, db, registry, tmp_path):
    healthy = healthy_images(svc)
    conf = write_conf(tmp_path, STORES_CONF.format(root=tmp_path))
    marker = tmp_path / 'stored'
    proc = start_worker('die-before-commit', conf, db.url, marker, 3 * MiB)
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL and os.path.exists(marker)
    assert len(files_under(tmp_path / 'fast')) == len(healthy) + 1   # complete, no location
    assert_recovers(db, registry, svc, healthy, ['orphan_data', 'stale_upload'])
    assert len(files_under(tmp_path / 'fast')) == len(healthy)


# -- killed processes and a dying endpoint, S3 ---------------------------------

def s3_conf(root, port):
    return file_and_s3_conf(root, 'http://127.0.0.1:%d' % port, S3_ACCESS, S3_SECRET,
                            large_object_size=5, large_object_chunk_size=5, thread_pools=2,
                            max_retries=0, connect_timeout=2, read_timeout=5)


@pytest.fixture(scope='module')
def s3_port():
    with moto_server() as port:
        yield port


def empty_bucket(store):
    """The module's moto server is shared: start from an empty bucket."""
    store.client.create_bucket(Bucket='images')
    for obj in store.client.list_objects_v2(Bucket='images').get('Contents', []):
        store.client.delete_object(Bucket='images', Key=obj['Key'])
    for up in store.client.list_multipart_uploads(Bucket='images').get('Uploads', []):
        store.client.abort_multipart_upload(Bucket='images', Key=up['Key'],
                                            UploadId=up['UploadId'])


@pytest.fixture
def s3_world(tmp_path, s3_port):
    registry = helpers.make_registry(tmp_path, s3_conf(tmp_path, s3_port))
    empty_bucket(registry['cold'])
    db = Catalog('sqlite:///%s/catalog.db' % tmp_path)
    db.create_schema()
    yield db, registry, ImageService(db, registry)
    db.dispose()


def uploads(store):
    return store.client.list_multipart_uploads(Bucket='images').get('Uploads', [])


def test_sigkill_mid_s3_multipart(s3_world, tmp_path, s3_port):
    db, registry, svc = s3_world
    healthy = healthy_images(svc, store='cold')
    conf = write_conf(tmp_path, s3_conf(tmp_path, s3_port))
    marker = tmp_path / 'parts-sent'
    proc = start_worker('stall', conf, db.url, marker, 30 * MiB, store='cold')
    wait_for(marker, proc)
    time.sleep(0.5)                       # parts in flight land
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(uploads(registry['cold'])) == 1       # left behind by the kill
    time.sleep(1.1)                       # moto's timestamps have 1 s resolution
    assert_recovers(db, registry, svc, healthy, ['orphan_multipart', 'stale_upload'])
    assert uploads(registry['cold']) == []


def test_s3_endpoint_dying_mid_upload(tmp_path, s3_port, caplog):
    proxy = Proxy(s3_port)
    registry = helpers.make_registry(tmp_path, s3_conf(tmp_path, proxy.port))
    db = Catalog('sqlite:///%s/catalog.db' % tmp_path)
    db.create_schema()
    svc = ImageService(db, registry)
    store = registry['cold']
    empty_bucket(store)
    healthy = healthy_images(svc, store='cold')
    sent = threading.Event()

    def data():
        for n in range(6):
            if n == 3:
                sent.set()
                time.sleep(0.5)           # the endpoint dies now
            yield b'd' * (5 * MiB)
    threading.Timer(0.1, lambda: sent.wait(30) and proxy.kill()).start()
    with pytest.raises(exceptions.StoreKitError):
        svc.upload(VICTIM, data(), size=30 * MiB, store='cold')
    assert any('could not abort' in r.getMessage() for r in caplog.records)
    proxy.revive()
    [image] = [i for i in db.image_get_all(ADMIN) if i['id'] not in healthy]
    assert image['status'] == 'killed' and image['locations'] == []
    assert len(uploads(store)) == 1
    time.sleep(1.1)
    assert_recovers(db, registry, svc, healthy, ['orphan_multipart'])
    db.dispose()


# -- full and read-only disks -------------------------------------------------------

def test_enospc_leaves_nothing(tmp_path, db):
    datadir = tmp_path / 'small'
    with helpers.small_filesystem(datadir, size='1m'):
        registry = helpers.make_registry(tmp_path, """
            [DEFAULT]
            enabled_backends = small:file
            [store_kit]
            default_backend = small
            [small]
            filesystem_store_datadir = %s
            filesystem_store_fsync = false
        """ % datadir)
        svc = ImageService(db, registry)
        healthy = healthy_images(svc)
        with pytest.raises(exceptions.StorageFull):
            svc.upload(VICTIM, io.BytesIO(b'z' * (2 * MiB)), size=2 * MiB)
        with pytest.raises(exceptions.StorageFull):       # size unknown up front
            svc.upload(VICTIM, iter([b'z' * MiB] * 2))
        assert len(files_under(datadir)) == len(healthy)
        killed = [i for i in db.image_get_all(ADMIN) if i['status'] == 'killed']
        assert len(killed) == 2 and all(i['locations'] == [] for i in killed)
        assert_recovers(db, registry, svc, healthy, [])


def test_read_only_datadir(svc, db, registry, tmp_path):
    healthy = healthy_images(svc)
    with helpers.read_only_mount(tmp_path / 'fast'):
        with pytest.raises(exceptions.StoreKitError, match='fast'):
            svc.upload(VICTIM, io.BytesIO(b'r' * 1000))
        assert len(files_under(tmp_path / 'fast')) == len(healthy)
        assert_recovers(db, registry, svc, healthy, [])
        doomed = next(iter(healthy))
        svc.delete(VICTIM, doomed)      # the data cannot go: left to the scrubber
        assert db.image_get(ADMIN, doomed, force_show_deleted=True)['status'] == \
            'pending_delete'
        assert len(files_under(tmp_path / 'fast')) == len(healthy)
    # the failed delete left its location pending, with the error, for a retry
    assert check.run(db, registry, grace=0).clean
    with db.engine.begin() as conn:
        [row] = conn.execute(sa.select(models.locations).where(
            models.locations.c.status == 'pending_delete')).mappings().all()
        assert 'Read-only' in row['last_error']
        conn.execute(models.locations.update().values(next_attempt_at=None))
    assert Scrubber(db, registry).run_once() == 1       # the disk is writable again
    assert db.image_get(ADMIN, doomed, force_show_deleted=True)['status'] == 'deleted'
    assert len(files_under(tmp_path / 'fast')) == len(healthy) - 1


# -- catalog connections dropped by the server ------------------------------------

def drop_connections(engine_name, url):
    """Kill every server-side connection to the database behind *url*."""
    name = sa.engine.make_url(url).database
    admin = databases._admin_engine(engine_name)
    try:
        with admin.connect() as conn:
            if engine_name == 'postgresql':
                killed = conn.exec_driver_sql(
                    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                    'WHERE datname = %(n)s AND pid <> pg_backend_pid()', {'n': name}).rowcount
            else:
                ids = [r[0] for r in conn.exec_driver_sql(
                    'SELECT id FROM information_schema.processlist WHERE db = %(n)s',
                    {'n': name})]
                for i in ids:
                    conn.exec_driver_sql('KILL %d' % i)
                killed = len(ids)
            conn.commit()
    finally:
        admin.dispose()
    return killed


@pytest.mark.parametrize('engine_name', ['postgresql', 'mariadb'])
def test_catalog_connections_dropped_mid_upload(engine_name, registry, tmp_path):
    url = databases.create_database(engine_name, tmp_path)
    db = Catalog(url)
    try:
        db.create_schema()
        svc = ImageService(db, registry)
        healthy = healthy_images(svc)
        streaming = threading.Event()

        def data():
            yield b'a' * MiB
            streaming.set()
            time.sleep(0.3)
            yield b'b' * MiB
        threading.Thread(target=lambda: streaming.wait(30) and drop_connections(
            engine_name, url)).start()
        image = svc.upload(VICTIM, data())          # the pool replaces dead connections
        assert image['status'] == 'active'
        assert drop_connections(engine_name, url) >= 1
        assert b''.join(svc.download(VICTIM, image['id'])) == b'a' * MiB + b'b' * MiB
        healthy[image['id']] = b'a' * MiB + b'b' * MiB
        assert_recovers(db, registry, svc, healthy, [])
    finally:
        db.dispose()
        databases.drop_database(engine_name, url)


def test_catalog_unreachable_at_commit_leaves_what_check_repairs(registry, tmp_path):
    """PostgreSQL refuses connections just when the upload commits: the data
    is removed, the image stays 'saving' (the catalog is down): check finds a
    stale upload once the catalog is back, and repair kills it."""
    url = databases.create_database('postgresql', tmp_path)
    name = sa.engine.make_url(url).database
    db = Catalog(url)
    admin = databases._admin_engine('postgresql')
    try:
        db.create_schema()
        svc = ImageService(db, registry)
        healthy = healthy_images(svc)
        real_add = registry['fast'].add

        def add_then_lose_the_catalog(*args, **kwargs):
            result = real_add(*args, **kwargs)
            with admin.connect() as conn:
                conn.exec_driver_sql('ALTER DATABASE %s ALLOW_CONNECTIONS false' % name)
            drop_connections('postgresql', url)
            return result
        registry['fast'].add = add_then_lose_the_catalog
        with pytest.raises(exceptions.CatalogUnavailable):
            svc.upload(VICTIM, io.BytesIO(b'q' * 5000))
        registry['fast'].add = real_add
        with admin.connect() as conn:
            conn.exec_driver_sql('ALTER DATABASE %s ALLOW_CONNECTIONS true' % name)
        assert len(files_under(tmp_path / 'fast')) == len(healthy)   # no orphan bytes
        assert_recovers(db, registry, svc, healthy, ['stale_upload'])
    finally:
        db.dispose()
        admin.dispose()
        databases.drop_database('postgresql', url)
