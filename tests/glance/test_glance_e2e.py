"""The real glance 33 API serving images through store_kit's drivers
(``store_kit_file``, ``store_kit_s3``, ``store_kit_http``), driven with
python-glanceclient and openstacksdk, on SQLite and PostgreSQL."""

import datetime
import hashlib
import io
import json
import os
import time

import botocore.exceptions
import pytest
import requests
import sqlalchemy as sa

from tests.glance.conftest import ACCESS, OLD_ACCESS, OLD_SECRET, SECRET

MiB = 1 << 20


def payload(n, seed):
    block = hashlib.sha512(seed.encode()).digest()
    return (block * (n // len(block) + 1))[:n]


def create(gc, **kw):
    kw.setdefault('disk_format', 'raw')
    kw.setdefault('container_format', 'bare')
    kw.setdefault('name', 'e2e')
    return gc.images.create(**kw)


def upload(gc, data, store=None, **kw):
    image = create(gc, **kw)
    gc.images.upload(image.id, io.BytesIO(data), backend=store)
    return gc.images.get(image.id)


def download(gc, image_id):
    return b''.join(gc.images.data(image_id))


def locations(glance, image_id, active_only=True):
    """glance's own location rows of *image_id*: [(id, url, meta, updated)]."""
    engine = glance.db()
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                'SELECT id, value, meta_data, updated_at FROM image_locations '
                'WHERE image_id = :i AND deleted = :f %s ORDER BY id'
                % ("AND status = 'active'" if active_only else '')),
                {'i': image_id, 'f': False}).fetchall()
    finally:
        engine.dispose()
    return [(r[0], r[1], json.loads(r[2] or '{}'), r[3]) for r in rows]


def set_location(glance, loc_id, url=None, meta=None):
    """Rewrite one location row by SQL, as an upgraded deployment has it."""
    values = {}
    if url is not None:
        values['value'] = url
    if meta is not None:
        values['meta_data'] = json.dumps(meta)
    sets = ', '.join('%s = :%s' % (k, k) for k in values)
    engine = glance.db()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text('UPDATE image_locations SET %s WHERE id = :id'
                                 % sets), dict(values, id=loc_id))
    finally:
        engine.dispose()


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError('timed out')


def s3_exists(glance, bucket, key):
    try:
        glance.s3().head_object(Bucket=bucket, Key=key)
        return True
    except botocore.exceptions.ClientError as exc:
        if exc.response['ResponseMetadata']['HTTPStatusCode'] == 404:
            return False
        raise


# -- the stores as glance sees them ---------------------------------------

def test_glance_lists_store_kit_stores(glance):
    info = requests.get(glance.url + '/v2/info/stores', timeout=10).json()
    stores = {s['id']: s for s in info['stores']}
    assert list(stores) == ['pool1', 'pool10', 's3a', 's3b', 'web']
    assert stores['pool1'].get('default') == 'true'
    assert stores['pool10']['description'] == 'the tenth pool'
    # said once at start-up, in glance's own log: the http store does not
    # set https_insecure, whose default differs from glance_store's
    assert glance.server.log().count('store web: https_insecure is not set') == 1


# -- upload, download, list, share, copy, delete --------------------------

@pytest.mark.parametrize('store, size', [('pool10', 3 * MiB + 17),
                                         ('s3b', 12 * MiB + 5)])
def test_upload_download_delete(glance, store, size):
    gc = glance.client()
    data = payload(size, store)
    image = upload(gc, data, store)
    assert image.status == 'active'
    assert image.stores == store
    assert image.size == size
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.os_hash_algo == 'sha512'
    assert image.os_hash_value == hashlib.sha512(data).hexdigest()
    assert download(gc, image.id) == data

    [(_, url, meta, _)] = locations(glance, image.id)
    assert meta == {'store': store}
    assert '@' not in url
    if store == 'pool10':
        assert url == 'file://%s/%s' % (glance.datadir('pool10'), image.id)
        assert os.path.getsize(url[len('file://'):]) == size
    else:
        assert url == 's3://127.0.0.1:%d/glance-b/%s' % (glance.moto_port,
                                                         image.id)
        assert s3_exists(glance, 'glance-b', image.id)

    gc.images.delete(image.id)
    if store == 'pool10':
        assert not os.path.exists(url[len('file://'):])
    else:
        assert not s3_exists(glance, 'glance-b', image.id)


def test_upload_to_default_store(glance):
    gc = glance.client()
    image = upload(gc, payload(1000, 'default'))
    assert image.stores == 'pool1'
    assert os.path.exists(os.path.join(glance.datadir('pool1'), image.id))


@pytest.mark.parametrize('store', ['pool1', 's3a'])
def test_ranged_download(glance, store):
    gc = glance.client()
    data = payload(2 * MiB + 100, 'range' + store)
    image = upload(gc, data, store)
    for first, last in ((0, 0), (100, 1 << 20), (len(data) - 10, len(data) - 1)):
        resp = requests.get('%s/v2/images/%s/file' % (glance.url, image.id),
                            headers={'Range': 'bytes=%d-%d' % (first, last)},
                            timeout=30)
        assert resp.status_code == 206
        assert resp.content == data[first:last + 1]
    resp = requests.get('%s/v2/images/%s/file' % (glance.url, image.id),
                        headers={'Range': 'bytes=%d-' % (len(data) - 7)},
                        timeout=30)
    assert resp.status_code == 206 and resp.content == data[-7:]


def test_list_shows_images_of_every_store(glance):
    gc = glance.client()
    tag = 'list-%s' % time.monotonic_ns()
    made = {store: upload(gc, payload(4096, store), store, name=tag).id
            for store in ('pool1', 'pool10', 's3a', 's3b')}
    listed = {i.id: i.stores for i in gc.images.list(filters={'name': tag})}
    assert listed == {image_id: store for store, image_id in made.items()}


def test_shared_image_readable_by_member_only(glance):
    gc = glance.client()
    data = payload(70000, 'share')
    image = upload(gc, data, 's3a', visibility='shared')
    gc.image_members.create(image.id, 'p2')
    gc.image_members.update(image.id, 'p2', 'accepted')
    assert download(glance.client(project='p2'), image.id) == data
    with pytest.raises(Exception) as info:
        download(glance.client(project='p3'), image.id)
    assert getattr(info.value, 'code', None) == 404


def test_copy_image_import_into_second_store(glance):
    gc = glance.client()
    data = payload(MiB + 3, 'copy')
    image = upload(gc, data, 'pool10')
    gc.images.image_import(image.id, method='copy-image', stores=['s3b'])
    stores = wait_for(lambda: (set(gc.images.get(image.id).stores.split(','))
                               >= {'pool10', 's3b'}) and gc.images.get(image.id).stores)
    assert set(stores.split(',')) == {'pool10', 's3b'}
    rows = {meta['store']: url for _, url, meta, _ in locations(glance, image.id)}
    assert rows['s3b'] == 's3://127.0.0.1:%d/glance-b/%s' % (glance.moto_port,
                                                             image.id)
    body = glance.s3().get_object(Bucket='glance-b', Key=image.id)['Body'].read()
    assert body == data
    assert download(gc, image.id) == data
    gc.images.delete(image.id)
    assert not s3_exists(glance, 'glance-b', image.id)
    assert not os.path.exists(os.path.join(glance.datadir('pool10'), image.id))


def test_openstacksdk_import_into_chosen_store(glance):
    conn = glance.sdk()
    data = payload(MiB + 11, 'sdk')
    image = conn.create_image('sdk-e2e', data=io.BytesIO(data), disk_format='raw',
                              container_format='bare', use_import=True,
                              stores=['s3b'], wait=True, timeout=120)
    image = wait_for(lambda: (lambda i: i if i.status == 'active' else None)(
        conn.image.get_image(image.id)))
    assert glance.client().images.get(image.id).stores == 's3b'
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.hash_value == hashlib.sha512(data).hexdigest()
    got = conn.image.download_image(image.id, stream=False)
    assert got.content == data
    conn.image.delete_image(image.id)
    assert not s3_exists(glance, 'glance-b', image.id)


def test_upload_to_read_only_http_store_refused(glance):
    gc = glance.client()
    image = create(gc)
    resp = requests.put('%s/v2/images/%s/file' % (glance.url, image.id),
                        data=b'x' * 100, timeout=30,
                        headers={'Content-Type': 'application/octet-stream',
                                 'X-Image-Meta-Store': 'web'})
    assert resp.status_code == 410      # glance's answer to StoreAddDisabled
    assert gc.images.get(image.id).status == 'queued'


def test_no_credentials_in_glance_log(glance):
    gc = glance.client()
    image = upload(gc, payload(2000, 'log'), 's3a')
    download(gc, image.id)
    gc.images.delete(image.id)
    log = glance.server.log() + glance.server.output()
    for secret in (ACCESS, SECRET, OLD_ACCESS, OLD_SECRET):
        assert secret not in log


# -- legacy locations: the GET backfill picks the right store -------------

def test_legacy_locations_get_right_store_on_get(glance):
    """Locations without ``store`` (an upgraded deployment's rows): glance's
    own backfill on GET asks each store's ``url_prefix``; store_kit's end
    at a path boundary and cover every scheme spelling, so pool10's file,
    glance-b's object behind a URL with rotated-away keys and an
    ``s3+http://`` URL each get their own store."""
    gc = glance.client()
    port = glance.moto_port
    cases = {}
    for store, spell in (('pool10', None),
                         ('s3b', 's3://%s:%s@127.0.0.1:%d/glance-b/%%s'
                          % (OLD_ACCESS, OLD_SECRET, port)),
                         ('s3a', 's3+http://127.0.0.1:%d/glance/%%s' % port)):
        data = payload(300000, 'legacy' + store)
        image = upload(gc, data, store)
        [(loc_id, url, _, _)] = locations(glance, image.id)
        set_location(glance, loc_id, url=spell % image.id if spell else None,
                     meta={})
        cases[image.id] = (store, data)

    for image_id, (store, data) in cases.items():
        assert gc.images.get(image_id).stores == store
        [(_, url, meta, _)] = locations(glance, image_id)
        assert meta == {'store': store}
        assert OLD_SECRET not in url
        assert download(gc, image_id) == data


def test_legacy_http_location_read_through_http_store(glance):
    gc = glance.client()
    data = payload(200000, 'web')
    os.makedirs(os.path.join(glance.web_root, 'pub'), exist_ok=True)
    with open(os.path.join(glance.web_root, 'pub', 'cirros.img'), 'wb') as f:
        f.write(data)
    image = create(gc)
    now = datetime.datetime.utcnow()
    engine = glance.db()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO image_locations (image_id, value, meta_data, status, "
                "created_at, updated_at, deleted) VALUES (:i, :v, '{}', 'active', "
                ":now, :now, :f)"),
                {'i': image.id, 'v': glance.web_url + '/pub/cirros.img',
                 'now': now, 'f': False})
            conn.execute(sa.text(
                "UPDATE images SET status = 'active', size = :s, checksum = :c "
                "WHERE id = :i"),
                {'s': len(data), 'c': hashlib.md5(data).hexdigest(), 'i': image.id})
    finally:
        engine.dispose()
    assert gc.images.get(image.id).stores == 'web'
    assert download(gc, image.id) == data


def test_bulk_backfill_then_glance_serves_without_rewriting_a_row(
        glance, monkeypatch, tmp_path):
    """`store-kit glance backfill` on glance's own glance-api.conf and
    database: afterwards glance finds every store recorded and its GET
    writes nothing."""
    from tests.cli.test_cli import sk
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('STORE_KIT_HOME', str(tmp_path / 'skhome'))
    gc = glance.client()
    port = glance.moto_port
    cases = {}
    for store, spell in (('pool10', None),
                         ('s3b', 's3://127.0.0.1:%d/glance-b/%%s' % port),
                         ('s3a', 's3+http://127.0.0.1:%d/glance/%%s' % port)):
        data = payload(100000, 'bulk' + store)
        image = upload(gc, data, store)
        [(loc_id, _, _, _)] = locations(glance, image.id)
        set_location(glance, loc_id, url=spell % image.id if spell else None, meta={})
        cases[image.id] = (store, data)

    code, out, err = sk(None, '--config-file', glance.conf_file, 'glance', 'backfill',
                        '--format', 'json')
    assert code == 0, err
    assert json.loads(out)['resolved'] >= 3 and json.loads(out)['unresolved'] == 0
    before = {i: locations(glance, i) for i in cases}
    assert all(rows[0][2] == {'store': cases[i][0]} for i, rows in before.items())
    for image_id, (store, data) in cases.items():
        assert gc.images.get(image_id).stores == store
        assert download(gc, image_id) == data
    assert {i: locations(glance, i) for i in cases} == before


def test_spelling_glance_cannot_match_is_readable_after_bulk_backfill(
        glance, monkeypatch, tmp_path):
    """glance's GET backfill compares raw strings: a legacy ``//`` in the
    path matches no url_prefix, and glance's fallback for a location with
    no store tries backends by type name (``store_kit_file`` prefixes no
    URL), so the image cannot be read until `store-kit glance backfill`
    (normalised matching) records its store."""
    from tests.cli.test_cli import sk
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('STORE_KIT_HOME', str(tmp_path / 'skhome'))
    gc = glance.client()
    data = payload(70000, 'doubled')
    image = upload(gc, data, 'pool1')
    [(loc_id, url, _, _)] = locations(glance, image.id)
    odd = url.replace('/pool1/', '//pool1/./')
    set_location(glance, loc_id, url=odd, meta={})
    assert not gc.images.get(image.id).get('stores')
    resp = requests.get('%s/v2/images/%s/file' % (glance.url, image.id), timeout=30)
    assert resp.status_code == 204 and resp.content == b''

    code, out, err = sk(None, '--config-file', glance.conf_file, 'glance', 'backfill')
    assert code == 0, err
    assert gc.images.get(image.id).stores == 'pool1'
    assert download(gc, image.id) == data
    assert locations(glance, image.id)[0][1] == odd       # the URL itself is kept
