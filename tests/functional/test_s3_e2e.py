"""The S3 store end to end over real HTTP, against moto's ThreadedMotoServer
on 127.0.0.1, through a registry built from config text."""

import hashlib
import io
import os
import time

import pytest

from store_kit import exceptions
from store_kit.drivers import s3
from tests.helpers import make_registry
from tests.moto_server import free_port, moto_server

MiB = 1 << 20
ACCESS = 'AKIASTOREKITE2E00001'
SECRET = 'e2e/Secret+Key:with/odd+chars'
OLD_ACCESS = 'AKIAROTATEDAWAY00001'
OLD_SECRET = 'rotated/old+secret:value'


@pytest.fixture(scope='module')
def server():
    with moto_server() as port:
        yield port


CONFIG = """
[DEFAULT]
enabled_backends = cold:s3, archive:s3, remote:s3
[store_kit]
default_backend = cold
[cold]
s3_store_host = http://127.0.0.1:{port}
s3_store_access_key = {access}
s3_store_secret_key = {secret}
s3_store_bucket = images
s3_store_create_bucket_on_put = true
s3_store_large_object_size = 8
s3_store_large_object_chunk_size = 5
s3_store_thread_pools = 3
[archive]
s3_store_host = http://127.0.0.1:{port}
s3_store_access_key = {access}
s3_store_secret_key = {secret}
s3_store_bucket = images-b
s3_store_create_bucket_on_put = true
[remote]
s3_store_host = http://S3.Example.COM:80
s3_store_access_key = {access}
s3_store_secret_key = {secret}
s3_store_bucket = images
"""


@pytest.fixture
def registry(server, tmp_path):
    return make_registry(tmp_path, CONFIG.format(port=server, access=ACCESS,
                                                 secret=SECRET))


def uploads_left(store, bucket='images'):
    return store.client.list_multipart_uploads(Bucket=bucket).get(
        'Uploads', [])


def read(registry, url, **kw):
    it, size = registry.get(url, **kw)
    with it:
        data = b''.join(it)
    assert len(data) == size
    return data


def test_location_map_and_prefixes(registry, server):
    entry = registry.location_map['cold']
    assert entry['store_entry'] == 's3'
    assert entry['location_class'] is s3.S3Location
    assert registry['cold'].url_prefix == 's3://127.0.0.1:%d/images' % server
    assert registry['remote'].url_prefix == 's3://s3.example.com/images'
    for store in registry:
        assert SECRET not in repr(store) and ACCESS not in repr(store)


def test_add_get_delete_over_http(registry, server):
    data = os.urandom(2 * MiB + 17)
    result = registry.add('e2e-small', io.BytesIO(data), len(data))
    assert result.url == 's3://127.0.0.1:%d/images/e2e-small' % server
    assert result.metadata == {'store': 'cold'}
    assert result.checksum == hashlib.md5(data).hexdigest()
    assert result.multihash == hashlib.sha512(data).hexdigest()
    assert registry.resolve(result.url) == 'cold'
    assert read(registry, result.url) == data
    assert read(registry, result.url, offset=MiB, length=100) == (
        data[MiB:MiB + 100])
    assert registry.get_size(result.url) == len(data)
    with pytest.raises(exceptions.Duplicate):
        registry.add('e2e-small', io.BytesIO(data), len(data))
    registry.delete(result.url)
    with pytest.raises(exceptions.NotFound):
        registry.get(result.url)


def test_multipart_over_http(registry):
    store = registry['cold']
    data = os.urandom(16 * MiB)
    pieces = iter([data[i:i + 300_000] for i in range(0, len(data), 300_000)])
    result = registry.add('e2e-multi', pieces)             # unknown size
    assert result.size == len(data)
    head = store.client.head_object(Bucket='images', Key='e2e-multi')
    assert head['ETag'].endswith('-4"')
    assert read(registry, result.url) == data
    assert uploads_left(store) == []
    registry.delete(result.url)


def test_failed_multipart_over_http_leaves_nothing(registry):
    store = registry['cold']

    def dying():
        for _ in range(3):
            yield os.urandom(4 * MiB)
        raise OSError('client went away')

    with pytest.raises(OSError):
        registry.add('e2e-dead', dying())
    assert uploads_left(store) == []
    with pytest.raises(exceptions.NotFound):
        registry.get_size('s3://127.0.0.1:%d/images/e2e-dead'
                          % store.endpoint_port)


def test_resolve_and_read_legacy_and_variant_urls(registry, server):
    data = os.urandom(1000)
    url = registry.add('e2e-legacy', [data], len(data)).url
    variants = [
        's3://%s:%s@127.0.0.1:%d/images/e2e-legacy' % (OLD_ACCESS,
                                                       OLD_SECRET, server),
        'S3+HTTP://%s:%s@127.0.0.1:%d/images/e2e-legacy' % (
            OLD_ACCESS, OLD_SECRET, server),
        's3+https://127.0.0.1:%d//images/./e2e-legacy' % server,
    ]
    for legacy in variants:
        assert registry.resolve(legacy) == 'cold', legacy
        assert read(registry, legacy) == data       # the store's own creds
        locations = [{'url': legacy, 'metadata': {}}]
        assert registry.backfill(locations) == 1
        assert locations[0]['metadata']['store'] == 'cold'
    registry.delete(variants[0])
    with pytest.raises(exceptions.NotFound):
        registry.get(url)


@pytest.mark.parametrize('url, owner', [
    ('s3://127.0.0.1:{port}/images-b/x', 'archive'),
    ('s3://K:S/E+C:R@127.0.0.1:{port}/images-b/x', 'archive'),
    ('s3://127.0.0.1:{port}/images/x', 'cold'),
    ('s3://127.0.0.1:{port}/images2/x', None),
    ('s3://127.0.0.1/images/x', None),
    ('s3://127.0.0.1:{port}/images/../images-b/x', 'archive'),
    ('s3://s3.example.com/images/x', 'remote'),
    ('s3+http://S3.EXAMPLE.COM:80/images/x', 'remote'),
    ('s3+https://%s:%s@s3.example.com:443/images/x'
     % (OLD_ACCESS, OLD_SECRET), 'remote'),
    ('s3://s3.example.com:8080/images/x', None),
    ('s3://s3.example.com/images-b/x', None),
])
def test_resolution_rules(registry, server, url, owner):
    assert registry.resolve(url.format(port=server)) == owner


def test_check_reachable(registry):
    registry.add('e2e-probe', [b'x'], 1)            # creates the bucket
    assert registry['cold'].check_reachable() == (True, '')
    registry.delete('s3://127.0.0.1:%d/images/e2e-probe'
                    % registry['cold'].endpoint_port)


def test_unreachable_endpoint_does_not_stop_create_stores(server, tmp_path):
    closed = free_port()                     # bound then released: closed
    text = """
    [DEFAULT]
    enabled_backends = cold:s3, dead:s3
    [store_kit]
    default_backend = cold
    [cold]
    s3_store_host = http://127.0.0.1:{port}
    s3_store_access_key = {access}
    s3_store_secret_key = {secret}
    s3_store_bucket = images
    s3_store_create_bucket_on_put = true
    [dead]
    s3_store_host = http://127.0.0.1:{closed}
    s3_store_access_key = {access}
    s3_store_secret_key = {secret}
    s3_store_bucket = images
    s3_store_max_retries = 0
    """.format(port=server, closed=closed, access=ACCESS, secret=SECRET)
    started = time.monotonic()
    registry = make_registry(tmp_path, text)
    assert registry.names() == ['cold', 'dead']
    health = registry.check_reachable()
    assert time.monotonic() - started < 15
    assert health['cold'] == (True, '')
    ok, reason = health['dead']
    assert ok is False
    assert '127.0.0.1:%d' % closed in reason
    assert SECRET not in reason and ACCESS not in reason
    with pytest.raises(exceptions.RemoteUnreachable):
        registry.add('x', [b'data'], 4, store='dead')
    # The healthy store is unaffected.
    url = registry.add('still-works', [b'data'], 4).url
    assert read(registry, url) == b'data'
    registry.delete(url)
