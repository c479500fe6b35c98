"""ImageService: upload, download, delete, restore and location management."""

import base64
import hashlib
import http.server
import io
import os
import threading

import pytest

from store_kit import exceptions
from store_kit.catalog import Catalog
from store_kit.images import ImageService
from tests import helpers
from tests.catalog.helpers import count_rows
from tests.ops.conftest import files_under

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def svc(db, registry):
    return ImageService(db, registry)


def path_of(url):
    return url[len('file://'):]


def assert_killed_clean(db, admin, tmp_path, image_id):
    """The image is killed with no location rows and no bytes left."""
    assert db.image_get(admin, image_id)['status'] == 'killed'
    assert count_rows(db, 'locations', image_id=image_id) == 0
    assert files_under(tmp_path / 'fast') == []
    assert files_under(tmp_path / 'cold') == []


def the_image(db, admin):
    images = db.image_get_all(admin)
    assert len(images) == 1
    return images[0]


# -- upload ------------------------------------------------------------------

def test_upload_records_data_hashes_and_one_location(svc, p1):
    image = svc.upload(p1, io.BytesIO(DATA), name='cirros', disk_format='raw')
    assert image['status'] == 'active'
    assert image['name'] == 'cirros'
    assert image['size'] == len(DATA)
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()
    assert image['os_hash_algo'] == 'sha512'
    assert image['os_hash_value'] == hashlib.sha512(DATA).hexdigest()
    [loc] = image['locations']
    assert loc['metadata'] == {'store': 'fast'}
    with open(path_of(loc['url']), 'rb') as f:
        assert f.read() == DATA


def test_upload_to_a_named_store_from_an_iterable(svc, p1):
    image = svc.upload(p1, [DATA[:1000], DATA[1000:]], size=len(DATA), store='cold')
    [loc] = image['locations']
    assert loc['metadata']['store'] == 'cold'
    assert '/cold/' in loc['url']


def test_upload_refuses_fields_it_manages(svc, db, admin, p1):
    with pytest.raises(exceptions.Invalid, match='status'):
        svc.upload(p1, io.BytesIO(b'x'), status='active')
    assert db.image_get_all(admin) == []


def test_upload_to_unknown_store_creates_nothing(svc, db, admin, p1):
    with pytest.raises(exceptions.UnknownStore, match='nowhere'):
        svc.upload(p1, io.BytesIO(b'x'), store='nowhere')
    assert db.image_get_all(admin) == []


def test_upload_input_error_kills_and_leaves_nothing(svc, db, admin, p1, tmp_path):
    def broken():
        yield DATA[:2 * 1024 * 1024]
        raise IOError('client went away')

    with pytest.raises(IOError, match='client went away'):
        svc.upload(p1, broken())
    assert_killed_clean(db, admin, tmp_path, the_image(db, admin)['id'])


def test_upload_size_mismatch_kills(svc, db, admin, p1, tmp_path):
    with pytest.raises(exceptions.SizeMismatch):
        svc.upload(p1, io.BytesIO(DATA), size=len(DATA) + 1)
    assert_killed_clean(db, admin, tmp_path, the_image(db, admin)['id'])


def test_upload_store_error_kills(svc, db, admin, p1, tmp_path, registry, monkeypatch):
    def failing_add(image_id, reader):
        for _ in reader:
            pass
        raise exceptions.BackendError('disk on fire')
    monkeypatch.setattr(registry['fast'], '_add', failing_add)
    with pytest.raises(exceptions.BackendError, match='disk on fire'):
        svc.upload(p1, io.BytesIO(DATA))
    assert_killed_clean(db, admin, tmp_path, the_image(db, admin)['id'])


def test_concurrent_status_change_kills_and_deletes_bytes(svc, db, admin, p1, tmp_path):
    def racing():
        yield DATA[:100]
        image = the_image(db, admin)
        db.image_update(admin, image['id'], {'status': 'deactivated'})
        yield DATA[100:200]

    with pytest.raises(exceptions.Conflict, match='deactivated'):
        svc.upload(p1, racing())
    assert_killed_clean(db, admin, tmp_path, the_image(db, admin)['id'])


def test_quota_is_enforced_while_streaming(db, registry, admin, p1, p2, tmp_path):
    svc = ImageService(db, registry, user_storage_quota=3 * 1024 * 1024)
    svc.upload(p1, io.BytesIO(b'a' * 2 * 1024 * 1024))
    consumed = []

    def endless():
        for i in range(100):
            consumed.append(i)
            yield b'b' * 1024 * 1024

    with pytest.raises(exceptions.StorageQuotaFull, match='p1'):
        svc.upload(p1, endless())
    assert len(consumed) <= 3          # stopped early, not after 100 MiB
    killed = [i for i in db.image_get_all(admin) if i['status'] == 'killed']
    assert len(killed) == 1 and count_rows(db, 'locations', image_id=killed[0]['id']) == 0
    assert len(files_under(tmp_path / 'fast')) == 1
    # a declared size over the quota is refused before any byte moves
    with pytest.raises(exceptions.StorageQuotaFull):
        svc.upload(p1, endless(), size=2 * 1024 * 1024)
    assert len(consumed) <= 3
    # other owners have their own quota
    assert svc.upload(p2, io.BytesIO(b'c' * 2 * 1024 * 1024))['status'] == 'active'


# -- download ----------------------------------------------------------------

def test_download_whole_and_ranged(svc, p1):
    image = svc.upload(p1, io.BytesIO(DATA))
    chunks = svc.download(p1, image['id'])
    assert chunks.size == len(DATA)
    assert b''.join(chunks) == DATA
    part = svc.download(p1, image['id'], offset=10, length=100)
    assert b''.join(part) == DATA[10:110]


def test_download_of_invisible_image_is_not_found(svc, p1, p2):
    image = svc.upload(p1, io.BytesIO(b'secret data'), visibility='private')
    with pytest.raises(exceptions.ImageNotFound, match=image['id']):
        svc.download(p2, image['id'])


@pytest.mark.parametrize('corrupt, error', [
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), exceptions.ChecksumMismatch),
    (lambda d: d[:-5], exceptions.SizeMismatch),
])
def test_download_of_a_corrupt_copy_raises(svc, p1, corrupt, error):
    image = svc.upload(p1, io.BytesIO(DATA))
    path = path_of(image['locations'][0]['url'])
    os.chmod(path, 0o600)
    with open(path, 'wb') as f:
        f.write(corrupt(DATA))
    with pytest.raises(error, match=image['id']):
        b''.join(svc.download(p1, image['id']))


def test_download_prefers_default_store_then_weight(tmp_path, db, p1):
    reg = helpers.make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = light:file, main:file, heavy:file
        [store_kit]
        default_backend = main
        [light]
        filesystem_store_datadir = {0}/light
        weight = 1
        [main]
        filesystem_store_datadir = {0}/main
        [heavy]
        filesystem_store_datadir = {0}/heavy
        weight = 9
        """.format(tmp_path))
    svc = ImageService(db, reg)
    locs = [{'id': 1, 'url': 'file://%s/light/x' % tmp_path, 'metadata': {}},
            {'id': 2, 'url': 'http://elsewhere/x', 'metadata': {}},
            {'id': 3, 'url': 'file://%s/heavy/x' % tmp_path, 'metadata': {'store': 'heavy'}},
            {'id': 4, 'url': 'file://%s/main/x' % tmp_path, 'metadata': {'store': 'main'}}]
    assert [loc['id'] for loc in svc.ordered_locations(locs)] == [4, 3, 1, 2]


def test_download_falls_back_to_the_next_location(svc, registry, p1, tmp_path):
    image = svc.upload(p1, io.BytesIO(DATA))
    copy = registry['cold'].add(image['id'], io.BytesIO(DATA))
    svc.add_location(p1, image['id'], copy.url)
    os.unlink(path_of(image['locations'][0]['url']))
    chunks = svc.download(p1, image['id'])
    assert chunks.store == 'cold'
    assert b''.join(chunks) == DATA


def test_download_with_no_readable_location(svc, p1):
    image = svc.upload(p1, io.BytesIO(DATA))
    os.unlink(path_of(image['locations'][0]['url']))
    with pytest.raises(exceptions.NotFound, match='no readable location'):
        svc.download(p1, image['id'])


# -- delete and restore ------------------------------------------------------

def test_delete_immediately_removes_data_and_rows(svc, db, admin, p1, tmp_path):
    image = svc.upload(p1, io.BytesIO(DATA))
    svc.delete(p1, image['id'])
    assert files_under(tmp_path / 'fast') == []
    assert db.image_get(admin, image['id'])['status'] == 'deleted'
    assert count_rows(db, 'locations', image_id=image['id'], status='deleted') == 1


def test_immediate_delete_leaves_failed_data_to_the_scrubber(
        svc, db, registry, admin, p1, tmp_path, monkeypatch):
    from store_kit.scrubber import Scrubber
    image = svc.upload(p1, io.BytesIO(DATA))
    real_delete = registry.delete

    def broken(url, store=None):
        raise exceptions.BackendError('disk on fire')
    monkeypatch.setattr(registry, 'delete', broken)
    svc.delete(p1, image['id'])
    # no active location, but the data and its pending row are kept
    assert len(files_under(tmp_path / 'fast')) == 1
    assert count_rows(db, 'locations', image_id=image['id'],
                      status='pending_delete') == 1
    assert db.image_get(admin, image['id'])['status'] == 'pending_delete'
    monkeypatch.setattr(registry, 'delete', real_delete)
    # the failure is retried later (after its backoff)
    import datetime
    from store_kit.catalog import models
    with db.engine.begin() as conn:
        conn.execute(models.locations.update().values(
            next_attempt_at=datetime.datetime(2000, 1, 1)))
    assert Scrubber(db, registry).run_once() == 1
    assert files_under(tmp_path / 'fast') == []
    assert db.image_get(admin, image['id'])['status'] == 'deleted'


def test_remove_location_immediately(svc, db, registry, admin, p1, tmp_path):
    image = svc.upload(p1, io.BytesIO(DATA))
    copy = registry.add('copy-' + image['id'], io.BytesIO(DATA), store='cold')
    image = svc.add_location(p1, image['id'], copy.url)
    cold = [loc for loc in image['locations'] if 'cold' in loc['url']][0]
    image = svc.remove_location(p1, image['id'], cold['id'])
    assert [loc['url'] for loc in image['locations']] != [copy.url]
    assert files_under(tmp_path / 'cold') == []
    assert count_rows(db, 'locations', id=cold['id'], status='deleted') == 1


def test_delete_refused_while_dependents_exist(svc, db, p1, tmp_path):
    base = svc.upload(p1, io.BytesIO(b'base'))
    child = svc.upload(p1, io.BytesIO(b'child'))
    db.set_hard_dependencies(p1, child['id'], [base['id']])
    with pytest.raises(exceptions.ImageInUse):
        svc.delete(p1, base['id'])
    assert db.image_get(p1, base['id'])['status'] == 'active'
    assert b''.join(svc.download(p1, base['id'])) == b'base'
    svc.delete(p1, child['id'])
    svc.delete(p1, base['id'])
    assert files_under(tmp_path / 'fast') == []


def test_delete_refused_for_protected_image(svc, p1):
    image = svc.upload(p1, io.BytesIO(b'keep'), protected=True)
    with pytest.raises(exceptions.ImageProtected, match=image['id']):
        svc.delete(p1, image['id'])
    assert b''.join(svc.download(p1, image['id'])) == b'keep'


def test_delayed_delete_keeps_data_until_restore(db, registry, admin, p1, tmp_path):
    svc = ImageService(db, registry, delayed_delete=True)
    image = svc.upload(p1, io.BytesIO(DATA))
    svc.delete(p1, image['id'])
    assert db.image_get(admin, image['id'])['status'] == 'pending_delete'
    assert count_rows(db, 'locations', image_id=image['id'], status='pending_delete') == 1
    assert len(files_under(tmp_path / 'fast')) == 1
    with pytest.raises(exceptions.NotFound):
        svc.download(p1, image['id'])
    restored = svc.restore(p1, image['id'])
    assert restored['status'] == 'active'
    assert len(restored['locations']) == 1
    assert b''.join(svc.download(p1, image['id'])) == DATA


def test_restore_of_an_active_image_is_a_conflict(svc, p1):
    image = svc.upload(p1, io.BytesIO(b'x'))
    with pytest.raises(exceptions.Conflict, match=image['id']):
        svc.restore(p1, image['id'])


# -- locations -----------------------------------------------------------------

def test_add_location_records_its_store(svc, registry, p1):
    image = svc.upload(p1, io.BytesIO(DATA))
    copy = registry['cold'].add('elsewhere', io.BytesIO(DATA))
    image = svc.add_location(p1, image['id'], copy.url)
    assert sorted(loc['metadata']['store'] for loc in image['locations']) == ['cold', 'fast']
    with pytest.raises(exceptions.Duplicate):
        svc.add_location(p1, image['id'], copy.url)


def test_add_location_to_queued_image_activates_it(svc, db, registry, p1):
    image = db.image_create(p1, {'name': 'ext'})
    copy = registry['cold'].add('ext', io.BytesIO(DATA))
    image = svc.add_location(p1, image['id'], copy.url)
    assert image['status'] == 'active' and image['size'] == len(DATA)
    assert b''.join(svc.download(p1, image['id'])) == DATA


def test_add_location_refuses_unowned_and_wrong_size(svc, db, registry, p1):
    image = svc.upload(p1, io.BytesIO(DATA))
    with pytest.raises(exceptions.BadStoreUri, match='nowhere.example'):
        svc.add_location(p1, image['id'], 'http://user:pw@nowhere.example/x')
    other = registry['cold'].add('other', io.BytesIO(b'short'))
    with pytest.raises(exceptions.SizeMismatch):
        svc.add_location(p1, image['id'], other.url)
    assert len(db.image_get(p1, image['id'])['locations']) == 1


def test_add_location_error_never_shows_credentials(svc, p1):
    image = svc.upload(p1, io.BytesIO(b'x'))
    with pytest.raises(exceptions.BadStoreUri) as info:
        svc.add_location(p1, image['id'], 'http://user:hunter2@nowhere.example/x')
    assert 'hunter2' not in str(info.value)


def test_remove_location(svc, db, registry, p1, tmp_path):
    image = svc.upload(p1, io.BytesIO(DATA))
    with pytest.raises(exceptions.Forbidden, match='last'):
        svc.remove_location(p1, image['id'], image['locations'][0]['id'])
    copy = registry['cold'].add('copy', io.BytesIO(DATA))
    image = svc.add_location(p1, image['id'], copy.url)
    cold = next(loc for loc in image['locations'] if loc['metadata']['store'] == 'cold')
    image = svc.remove_location(p1, image['id'], cold['id'])
    assert [loc['metadata']['store'] for loc in image['locations']] == ['fast']
    assert files_under(tmp_path / 'cold') == []
    assert count_rows(db, 'locations', id=cold['id'], status='deleted') == 1
    with pytest.raises(exceptions.LocationNotFound):
        svc.remove_location(p1, image['id'], cold['id'])


def test_lifecycle_on_every_engine(any_engine_url, registry, p1, admin, tmp_path):
    """Upload, read, delayed delete, restore, delete again and scrub."""
    from store_kit.catalog import Catalog
    from store_kit.scrubber import Scrubber
    db = Catalog(any_engine_url, resolver=registry)
    try:
        svc = ImageService(db, registry, delayed_delete=True,
                           user_storage_quota=10 * len(DATA))
        image = svc.upload(p1, io.BytesIO(DATA), name='e2e')
        assert b''.join(svc.download(p1, image['id'])) == DATA
        with pytest.raises(exceptions.SizeMismatch):
            svc.upload(p1, io.BytesIO(DATA), size=1)
        svc.delete(p1, image['id'])
        assert svc.restore(p1, image['id'])['status'] == 'active'
        svc.delete(p1, image['id'])
        assert Scrubber(db, registry).run_once() == 1
        assert db.image_get(admin, image['id'])['status'] == 'deleted'
        assert files_under(tmp_path / 'fast') == []
        assert count_rows(db, 'locations', status='active') == 0
    finally:
        db.dispose()


def test_services_configured_from_options(tmp_path, db, registry):
    from store_kit import ops_config
    from store_kit.scrubber import Scrubber
    conf = helpers.make_conf(tmp_path, """
        [image_service]
        delayed_delete = true
        user_storage_quota = 1000
        [scrubber]
        scrub_time = 60
        lease_seconds = 30
        batch_size = 7
        """, name='ops.conf')
    ops_config.register_opts(conf)
    svc = ImageService.from_conf(conf, db, registry)
    assert (svc.delayed_delete, svc.user_storage_quota) == (True, 1000)
    scrubber = Scrubber.from_conf(conf, db, registry)
    assert (scrubber.scrub_time, scrubber.lease_seconds, scrubber.batch_size) == (60, 30, 7)
    assert {g for g, _ in ops_config.list_opts()} == {'catalog', 'image_service', 'scrubber'}


def test_quota_with_one_bytes_object_and_bad_chunks(db, registry, admin, p1):
    svc = ImageService(db, registry, user_storage_quota=10 ** 9)
    assert svc.upload(p1, b'abcdef', size=6)['size'] == 6
    with pytest.raises(exceptions.Invalid, match='int'):
        svc.upload(p1, [b'ab', 3])
    assert [i['status'] for i in db.image_get_all(admin)
            if i['status'] != 'active'] == ['killed']


def test_external_s3_location_loses_its_legacy_credentials(tmp_path, p1,
                                                           monkeypatch):
    from moto import mock_aws
    for var, value in (('AWS_ACCESS_KEY_ID', 'x'),
                       ('AWS_SECRET_ACCESS_KEY', 'x'),
                       ('AWS_DEFAULT_REGION', 'us-east-1'),
                       ('AWS_CONFIG_FILE', str(tmp_path / 'none')),
                       ('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'none'))):
        monkeypatch.setenv(var, value)
    with mock_aws():
        reg = helpers.make_registry(tmp_path, """
            [DEFAULT]
            enabled_backends = cold:s3
            [store_kit]
            default_backend = cold
            [cold]
            s3_store_host = s3.amazonaws.com
            s3_store_bucket = images
            s3_store_access_key = AKIANEW
            s3_store_secret_key = new/secret
            """)
        reg['cold'].client.create_bucket(Bucket='images')
        reg['cold'].client.put_object(Bucket='images', Key='old', Body=b'x')
        db = Catalog('sqlite:///%s/c.db' % tmp_path)
        db.create_schema()
        svc = ImageService(db, reg)
        image = db.image_create(p1, {'name': 'legacy', 'status': 'queued'})
        image = svc.add_location(
            p1, image['id'], 's3://AKIAOLD:old/se+cret@s3.amazonaws.com/images/old')
        assert [loc['url'] for loc in image['locations']] == [
            's3://s3.amazonaws.com/images/old']
        assert image['locations'][0]['metadata'] == {'store': 'cold'}


# -- secrets in location URLs ---------------------------------------------------

SECRET_USER, SECRET_PASSWORD, SIGNATURE = 'reader', 'pa55-hunter2', 'sig-0f1e2d'


class _SigningHandler(http.server.BaseHTTPRequestHandler):
    """Serves DATA at /img only with Basic auth and ?sig=SIGNATURE."""

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head):
        want = 'Basic ' + base64.b64encode(
            ('%s:%s' % (SECRET_USER, SECRET_PASSWORD)).encode()).decode()
        ok = (self.headers.get('Authorization') == want
              and self.path == '/img?sig=%s' % SIGNATURE)
        body = DATA if ok else b''
        self.send_response(200 if ok else 403)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


@pytest.fixture
def signed_url():
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _SigningHandler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield 'http://%s:%s@127.0.0.1:%d/img?sig=%s' % (
        SECRET_USER, SECRET_PASSWORD, srv.server_address[1], SIGNATURE)
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def web_registry(tmp_path):
    return helpers.make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = fast:file, web:http
        [store_kit]
        default_backend = fast
        [fast]
        filesystem_store_datadir = {root}/fast
        """.format(root=tmp_path))


def _leaks(value):
    text = repr(value)
    return [s for s in (SECRET_PASSWORD, SIGNATURE) if s in text]


def test_image_service_reads_with_secrets_it_never_shows(db, web_registry, signed_url,
                                                         admin, p1, p2, p3):
    """Owner, member and public viewer download through Basic auth and a
    signed query, and see neither; the admin sees the real URL."""
    svc = ImageService(db, web_registry)
    image = db.image_create(p1, {'name': 'signed', 'visibility': 'shared'})
    image = svc.add_location(p1, image['id'], signed_url)
    assert image['status'] == 'active' and image['size'] == len(DATA)
    assert _leaks(image) == []
    db.image_update(p1, image['id'], {'checksum': hashlib.md5(DATA).hexdigest(),
                                      'os_hash_value': hashlib.sha512(DATA).hexdigest()})
    [loc] = image['locations']
    port = signed_url.split('@')[1].split('/')[0]
    assert loc['url'] == 'http://***@%s/img?...' % port
    member = db.image_member_create(p1, {'image_id': image['id'], 'member': 'p2'})
    db.image_member_update(p2, member['id'], {'status': 'accepted'})
    public = db.image_create(admin, {   # an admin may share data between images
        'owner': 'p1', 'name': 'public', 'visibility': 'public', 'status': 'active',
        'size': len(DATA), 'locations': [{'url': signed_url, 'metadata': {}}]})

    for ctx, image_id in ((p1, image['id']), (p2, image['id']), (p3, public['id'])):
        download = svc.download(ctx, image_id)
        assert download.store == 'web'
        assert b''.join(download) == DATA
        assert _leaks(download.location) == [] and _leaks(vars(download)) == []
    download = svc.download(admin, image['id'])
    assert download.location['url'] == signed_url
    assert b''.join(download) == DATA
    with pytest.raises(exceptions.ImageNotFound):
        svc.download(p3, image['id'])


def test_image_service_returns_redacted_images(db, web_registry, signed_url, p1):
    svc = ImageService(db, web_registry, delayed_delete=True)
    image = svc.upload(p1, DATA, name='x')
    image = svc.add_location(p1, image['id'], signed_url)
    assert len(image['locations']) == 2 and _leaks(image) == []
    with pytest.raises(exceptions.Duplicate) as info:
        svc.add_location(p1, image['id'], signed_url)
    assert _leaks(str(info.value)) == []
    signed = next(loc for loc in image['locations'] if loc['metadata']['store'] == 'web')
    assert _leaks(svc.delete(p1, image['id'])) == []
    restored = svc.restore(p1, image['id'])
    assert len(restored['locations']) == 2 and _leaks(restored) == []
    assert _leaks(svc.remove_location(p1, image['id'], signed['id'])) == []


# -- bad input -------------------------------------------------------------------

@pytest.mark.parametrize('data, size', [
    (None, 0), ('text is not bytes', 0), (5, 0), ({'a': b'x'}, 0),
    (io.StringIO('a text file'), 0), (b'x', -1), (b'x', 2 ** 63), (b'x', '1'),
    (b'x', None), (b'x', True)])
def test_upload_refuses_bad_data_before_creating_anything(svc, db, admin, p1, tmp_path,
                                                          data, size):
    with pytest.raises(exceptions.Invalid):
        svc.upload(p1, data, size=size, name='bad')
    assert db.image_get_all(admin, filters={'deleted': 'all'}) == []
    assert files_under(tmp_path / 'fast') == []


def test_upload_refuses_a_store_that_is_no_name(svc, db, admin, p1):
    with pytest.raises(exceptions.Invalid, match='store'):
        svc.upload(p1, b'x', store=['fast'])
    assert db.image_get_all(admin) == []


def test_upload_of_odd_values_is_refused_before_creating_anything(svc, db, admin, p1):
    for values in ({'name': 'bad\ud800'}, {'min_ram': 2 ** 31}, {'size_x': 1},
                   {'properties': {'k': object()}}):
        with pytest.raises(exceptions.Invalid):
            svc.upload(p1, b'x', **values)
    assert db.image_get_all(admin) == []


def test_add_location_asks_the_store_nothing_before_the_rights_are_checked(
        db, web_registry, signed_url, p1, p2, monkeypatch):
    """A project that may not attach a URL (not its image, or data another
    image holds) learns nothing about it: no HEAD, no size mismatch."""
    svc = ImageService(db, web_registry)
    asked = []
    real_get_size = web_registry.get_size
    monkeypatch.setattr(web_registry, 'get_size',
                        lambda *a, **kw: asked.append(a) or real_get_size(*a, **kw))
    theirs = db.image_create(p1, {'name': 'theirs', 'visibility': 'public'})
    with pytest.raises(exceptions.Forbidden, match='p2 may not change'):
        svc.add_location(p2, theirs['id'], signed_url)
    owned = svc.add_location(p1, theirs['id'], signed_url)        # the owner may
    assert len(asked) == 1
    mine = db.image_create(p2, {'name': 'mine', 'size': 1, 'status': 'active'})
    with pytest.raises(exceptions.Forbidden, match=owned['id']):  # not a SizeMismatch
        svc.add_location(p2, mine['id'], signed_url)
    assert len(asked) == 1


def test_from_conf_names_a_bad_option(db, registry, tmp_path):
    from tests import helpers
    from tests.ops.conftest import STORES_CONF
    conf = helpers.make_conf(tmp_path, STORES_CONF.format(root=tmp_path)
                             + '\n[image_service]\nuser_storage_quota = lots\n')
    with pytest.raises(exceptions.BadStoreConfiguration,
                       match=r"\[image_service\] user_storage_quota: invalid value 'lots'"):
        ImageService.from_conf(conf, db, registry)
