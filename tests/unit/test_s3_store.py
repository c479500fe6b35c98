"""The S3 store against moto in-process: prefixes, upload paths, aborts,
reads, error mapping, legacy URLs and secrets."""

import hashlib
import io
import logging
import os
import socket
import threading
import time

import pytest
from botocore import exceptions as boto_exc
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from store_kit import exceptions
from store_kit.drivers import s3
from tests.helpers import make_registry

MiB = 1 << 20
ACCESS = 'AKIASTOREKITEXAMPLE1'
SECRET = 'wJalr/XUtnFEMI+K7MDENG:bPxRfiCYEXAMPLEKEY'
OLD_ACCESS = 'AKIAOLDROTATEDKEY000'
OLD_SECRET = 'old/Secret+with:colons/and+slashes'
BUCKET = 'images'
HOST = 's3.amazonaws.com'


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """Fake ambient AWS settings so nothing real is ever picked up."""
    for var in ('AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN',
                'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_CA_BUNDLE'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'ambient-not-used')
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'ambient-not-used')
    monkeypatch.setenv('AWS_DEFAULT_REGION', 'us-east-1')
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'no-aws-config'))
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE',
                       str(tmp_path / 'no-aws-credentials'))


@pytest.fixture
def aws():
    with mock_aws():
        yield


def config_text(host=HOST, bucket=BUCKET, access=ACCESS, secret=SECRET,
                **opts):
    lines = ['[DEFAULT]', 'enabled_backends = cold:s3',
             '[store_kit]', 'default_backend = cold', '[cold]']
    for name, value in (('host', host), ('bucket', bucket),
                        ('access_key', access), ('secret_key', secret)):
        if value is not None:
            lines.append('s3_store_%s = %s' % (name, value))
    lines += ['s3_store_%s = %s' % item for item in opts.items()]
    return '\n'.join(lines) + '\n'


def make_store(tmp_path, **kw):
    return make_registry(tmp_path, config_text(**kw))['cold']


@pytest.fixture
def store(tmp_path, aws):
    """A store with 5 MiB parts and single PUTs below 8 MiB; bucket made."""
    s = make_store(tmp_path, large_object_chunk_size=5,
                   large_object_size=8, max_retries=0)
    s.client.create_bucket(Bucket=BUCKET)
    return s


class Recorder:
    """Records the S3 operations a client makes and the parts it sends."""

    def __init__(self, client):
        self.ops = []
        self.parts = []
        self.lock = threading.Lock()
        client.meta.events.register('before-call.s3', self._call)
        client.meta.events.register('provide-client-params.s3.UploadPart',
                                    self._part)

    def _call(self, model, **kw):
        with self.lock:
            self.ops.append(model.name)

    def _part(self, params, **kw):
        with self.lock:
            self.parts.append((params['PartNumber'], len(params['Body'])))

    def count(self, op):
        return self.ops.count(op)

    def part_sizes(self):
        return [size for _, size in sorted(self.parts)]


def fail_on(client, op, code='InternalError', status=500, when=None):
    """Make *op* raise a ClientError(code) (each call, or when
    when(api params) is true)."""
    def handler(params, **kw):
        if when is None or when(params):
            raise boto_exc.ClientError(
                {'Error': {'Code': code, 'Message': 'injected ' + code},
                 'ResponseMetadata': {'HTTPStatusCode': status}}, op)
    client.meta.events.register('provide-client-params.s3.%s' % op, handler)


def chunks(data, size=100_000):
    return iter([data[i:i + size] for i in range(0, len(data), size)])


def no_uploads_left(store):
    resp = store.client.list_multipart_uploads(Bucket=BUCKET)
    return not resp.get('Uploads')


def object_exists(store, key):
    try:
        store.client.head_object(Bucket=BUCKET, Key=key)
    except boto_exc.ClientError:
        return False
    return True


def etag(store, key):
    return store.client.head_object(Bucket=BUCKET, Key=key)['ETag']


def read_all(store, url, **kw):
    it, size = store.get(url, **kw)
    try:
        data = b''.join(it)
    finally:
        it.close()
    assert len(data) == size
    return data


# -- configuration and prefixes --------------------------------------------

@pytest.mark.parametrize('host, prefix, endpoint', [
    ('s3.amazonaws.com', 's3://s3.amazonaws.com/images',
     'https://s3.amazonaws.com'),
    ('https://S3.Example.COM:443/', 's3://s3.example.com/images',
     'https://s3.example.com'),
    ('http://127.0.0.1:5000', 's3://127.0.0.1:5000/images',
     'http://127.0.0.1:5000'),
    ('http://minio.local:80', 's3://minio.local/images',
     'http://minio.local'),
    ('https://minio.local:9000', 's3://minio.local:9000/images',
     'https://minio.local:9000'),
    ('minio.local:9000', 's3://minio.local:9000/images',
     'https://minio.local:9000'),
    ('http://[::1]:9000', 's3://[::1]:9000/images', 'http://[::1]:9000'),
])
def test_prefix_from_host_variants(tmp_path, host, prefix, endpoint):
    store = make_store(tmp_path, host=host)
    assert store.url_prefixes == [prefix]
    assert store.endpoint_url == endpoint
    assert ACCESS not in prefix and SECRET not in prefix


@pytest.mark.parametrize('fmt, host, bucket, style', [
    ('auto', 's3.amazonaws.com', 'images', 'virtual'),
    ('auto', 's3.eu-west-1.amazonaws.com', 'images', 'virtual'),
    ('auto', 's3.amazonaws.com', 'my.dotted.bucket', 'path'),
    ('auto', 'minio.local', 'images', 'path'),
    ('auto', '127.0.0.1', 'images', 'path'),
    ('path', 's3.amazonaws.com', 'images', 'path'),
    ('virtual', 'minio.local', 'images', 'virtual'),
])
def test_addressing_style(tmp_path, fmt, host, bucket, style):
    assert s3.addressing_style(fmt, host, bucket) == style
    store = make_store(tmp_path, host=host, bucket=bucket,
                       bucket_url_format=fmt)
    assert store.addressing_style == style
    # Request addressing never changes the location prefix.
    assert store.url_prefix == 's3://%s/%s' % (host, bucket)


def test_configure_touches_no_network(tmp_path, monkeypatch):
    def no_network(*a, **kw):
        raise AssertionError('configure() opened a connection')
    monkeypatch.setattr(socket, 'create_connection', no_network)
    store = make_store(tmp_path, host='http://127.0.0.1:9')
    assert store._client is None


@pytest.mark.parametrize('opts, option, named', [
    ({'host': None}, 's3_store_host', 'required'),
    ({'host': ''}, 's3_store_host', 'required'),
    ({'host': 'ftp://s3.example.com'}, 's3_store_host', "'ftp'"),
    ({'host': 'http://s3.example.com/sub/path'}, 's3_store_host',
     '/sub/path'),
    ({'host': 'http://s3.example.com:99999'}, 's3_store_host', '99999'),
    ({'bucket': None}, 's3_store_bucket', 'required'),
    ({'bucket': 'bad/bucket'}, 's3_store_bucket', "'bad/bucket'"),
    ({'bucket': 'Under_Score', 'bucket_url_format': 'virtual'},
     's3_store_bucket_url_format', "'Under_Score'"),
    ({'bucket_url_format': 'sideways'}, 's3_store_bucket_url_format',
     'sideways'),
    ({'access': None}, 's3_store_access_key', 'required'),
    ({'secret': None}, 's3_store_secret_key', 'required'),
    ({'large_object_chunk_size': 4}, 's3_store_large_object_chunk_size',
     '4'),
    ({'large_object_size': 6000}, 's3_store_large_object_size', '6000'),
    ({'thread_pools': 0}, 's3_store_thread_pools', '0'),
    ({'max_retries': -1}, 's3_store_max_retries', '-1'),
    ({'read_timeout': 0}, 's3_store_read_timeout', '0'),
    ({'connect_timeout': 'soon'}, 's3_store_connect_timeout', 'soon'),
    ({'create_bucket_on_put': 'perhaps'}, 's3_store_create_bucket_on_put',
     'perhaps'),
    ({'cacert': '/nonexistent/ca.pem'}, 's3_store_cacert',
     '/nonexistent/ca.pem'),
])
def test_bad_config(tmp_path, opts, option, named):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_store(tmp_path, **opts)
    assert err.value.section == 'cold'
    assert err.value.option == option
    assert named in str(err.value)
    assert SECRET not in str(err.value) and ACCESS not in str(err.value)


def test_credentials_in_host_refused_without_echoing_them(tmp_path):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_store(tmp_path, host='http://%s:%s@s3.example.com'
                   % (OLD_ACCESS, 'hunter2hunter2'))
    assert err.value.option == 's3_store_host'
    assert OLD_ACCESS not in str(err.value)
    assert 'hunter2hunter2' not in str(err.value)


def test_options_have_help():
    for opt in s3.OPTIONS:
        assert opt.help and len(opt.help) > 20, opt.name
    secret = {o.name for o in s3.OPTIONS if o.secret}
    assert secret == {'s3_store_access_key', 's3_store_secret_key'}


# -- pure helpers -------------------------------------------------------------

def test_part_size_known_sizes():
    chunk = 10 * MiB
    assert s3.part_size_for(0, chunk) == chunk
    assert s3.part_size_for(1, chunk) == chunk
    assert s3.part_size_for(97 * 1024 * MiB, chunk) == chunk  # 97 GiB
    # 100 GiB / 10,000 = 10.24 MiB -> 11 MiB
    assert s3.part_size_for(100 * 1024 * MiB, chunk) == 11 * MiB
    # 200 GiB / 10,000 = 20.48 MiB -> 21 MiB
    assert s3.part_size_for(200 * 1024 * MiB, chunk) == 21 * MiB
    assert s3.part_size_for(s3.MAX_OBJECT_SIZE, 5 * MiB) == 525 * MiB
    with pytest.raises(exceptions.Invalid) as err:
        s3.part_size_for(s3.MAX_OBJECT_SIZE + 1, chunk)
    assert str(s3.MAX_OBJECT_SIZE + 1) in str(err.value)


@given(size=st.integers(1, s3.MAX_OBJECT_SIZE),
       chunk_mib=st.integers(5, 5120))
def test_part_size_never_needs_more_than_10000_parts(size, chunk_mib):
    chunk = chunk_mib * MiB
    part = s3.part_size_for(size, chunk)
    assert part >= chunk and part % MiB == 0
    assert part <= s3.MAX_PART_SIZE
    assert -(-size // part) <= s3.MAX_PARTS


def test_unknown_size_parts_grow_to_reach_5_tib():
    chunk = 10 * MiB
    sizes = [s3.blocks_in_part(n, chunk) * chunk
             for n in range(1, s3.MAX_PARTS + 1)]
    assert sizes[0] == sizes[999] == chunk
    assert sizes[1000] == 2 * chunk
    assert max(sizes) <= s3.MAX_PART_SIZE
    assert sum(sizes) >= s3.MAX_OBJECT_SIZE


@pytest.mark.parametrize('value, expected', [
    ('s3.amazonaws.com', ('https', 's3.amazonaws.com', None)),
    ('HTTP://Host.Example:8080', ('http', 'host.example', 8080)),
    ('https://host:443', ('https', 'host', None)),
    ('http://[2001:db8::1]', ('http', '[2001:db8::1]', None)),
])
def test_parse_endpoint(value, expected):
    assert s3.parse_endpoint(value) == expected


# -- upload paths ---------------------------------------------------------------

def test_single_put_below_large_object_size(store):
    rec = Recorder(store.client)
    data = os.urandom(3 * MiB)
    result = store.add('small', io.BytesIO(data), len(data))
    assert result.url == 's3://s3.amazonaws.com/images/small'
    assert rec.count('PutObject') == 1
    assert rec.count('CreateMultipartUpload') == 0
    assert result.size == len(data)
    assert read_all(store, result.url) == data


def test_multipart_at_or_above_large_object_size(store):
    rec = Recorder(store.client)
    data = os.urandom(12 * MiB)
    result = store.add('big', io.BytesIO(data), len(data))
    assert rec.count('PutObject') == 0
    assert rec.count('CreateMultipartUpload') == 1
    assert rec.count('CompleteMultipartUpload') == 1
    assert rec.part_sizes() == [5 * MiB, 5 * MiB, 2 * MiB]
    assert etag(store, 'big').endswith('-3"')
    assert read_all(store, result.url) == data


def test_large_object_size_zero_means_always_multipart(tmp_path, aws):
    store = make_store(tmp_path, large_object_size=0)
    store.client.create_bucket(Bucket=BUCKET)
    rec = Recorder(store.client)
    store.add('tiny', [b'x' * 1000], 1000)
    assert rec.count('CreateMultipartUpload') == 1
    assert rec.part_sizes() == [1000]
    assert read_all(store, 's3://s3.amazonaws.com/images/tiny') == b'x' * 1000


def test_multipart_unknown_size_iterator(store):
    rec = Recorder(store.client)
    data = os.urandom(16 * MiB)
    result = store.add('unknown', chunks(data))
    assert rec.count('CreateMultipartUpload') == 1
    assert rec.part_sizes() == [5 * MiB, 5 * MiB, 5 * MiB, 1 * MiB]
    assert result.size == len(data)
    assert etag(store, 'unknown').endswith('-4"')
    assert read_all(store, result.url) == data


@pytest.mark.parametrize('length', [0, 1, 5 * MiB])
def test_unknown_size_within_one_part_is_a_single_put(store, length):
    rec = Recorder(store.client)
    data = os.urandom(length)
    result = store.add('one-part', chunks(data))
    assert rec.count('PutObject') == 1
    assert rec.count('CreateMultipartUpload') == 0
    assert result.size == length
    assert read_all(store, result.url) == data


def test_unknown_size_parts_grow(store, monkeypatch):
    monkeypatch.setattr(s3, 'PARTS_PER_TIER', 1)   # double every part
    rec = Recorder(store.client)
    data = os.urandom(16 * MiB)
    result = store.add('growing', chunks(data, MiB))
    assert rec.part_sizes() == [5 * MiB, 10 * MiB, 1 * MiB]
    assert read_all(store, result.url) == data


def test_known_huge_size_grows_the_part_size(store, monkeypatch):
    # Pretend the object limits are tiny so a 16 MiB image "needs" 6 MiB
    # parts: the reader must then yield 6 MiB blocks.
    monkeypatch.setattr(s3, 'MAX_PARTS', 3)
    rec = Recorder(store.client)
    data = os.urandom(16 * MiB)
    store.add('grown', io.BytesIO(data), len(data))
    assert rec.part_sizes() == [6 * MiB, 6 * MiB, 4 * MiB]


def test_more_than_max_parts_aborts(store, monkeypatch):
    monkeypatch.setattr(s3, 'MAX_PARTS', 2)
    data = os.urandom(16 * MiB)
    with pytest.raises(exceptions.BackendError) as err:
        store.add('too-many', chunks(data))
    assert err.value.code == 'EntityTooLarge'
    assert no_uploads_left(store)
    assert not object_exists(store, 'too-many')


def test_back_pressure_bounds_parts_in_memory(tmp_path, aws):
    store = make_store(tmp_path, large_object_chunk_size=5, thread_pools=2,
                       large_object_size=8)
    store.client.create_bucket(Bucket=BUCKET)
    state = {'produced': 0, 'done': 0, 'active': 0, 'max_active': 0,
             'max_held': 0}
    lock = threading.Lock()

    def before(**kw):
        with lock:
            state['active'] += 1
            state['max_active'] = max(state['max_active'], state['active'])
        time.sleep(0.15)        # a slow network: the reader must wait

    def after(**kw):
        with lock:
            state['active'] -= 1
            state['done'] += 1

    store.client.meta.events.register('before-call.s3.UploadPart', before)
    store.client.meta.events.register('after-call.s3.UploadPart', after)
    part = 5 * MiB

    def source():
        for i in range(6):
            with lock:
                state['produced'] += 1
                state['max_held'] = max(state['max_held'],
                                        state['produced'] - state['done'])
            yield bytes([i]) * part

    result = store.add('pressure', source())
    assert result.size == 6 * part
    assert state['max_active'] <= 2
    # at most thread_pools in flight plus the one being read
    assert state['max_held'] <= 3


def test_concurrent_adds_share_one_client(store):
    client = store.client
    datas = {'t%d' % i: os.urandom(11 * MiB) for i in range(3)}
    errors = []

    def add(name):
        try:
            store.add(name, io.BytesIO(datas[name]), len(datas[name]))
        except Exception as exc:     # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in datas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.client is client
    for name, data in datas.items():
        assert read_all(store, 's3://s3.amazonaws.com/images/' + name) == data


@pytest.mark.parametrize('algo', ['sha512', 'sha256'])
@pytest.mark.parametrize('length, sized', [
    (3 * MiB, True), (12 * MiB, True), (12 * MiB, False), (0, False)])
def test_checksum_and_multihash(store, algo, length, sized):
    data = os.urandom(length)
    result = store.add('h', chunks(data), length if sized else 0,
                       hashing_algo=algo)
    assert result.checksum == hashlib.md5(data).hexdigest()
    assert result.multihash == hashlib.new(algo, data).hexdigest()
    assert result.metadata == {'store': 'cold'}
    assert result.size == length


# -- aborts --------------------------------------------------------------------

def raising_source(data, after, exc):
    sent = 0
    for piece in chunks(data, MiB):
        if sent >= after:
            raise exc
        sent += len(piece)
        yield piece


@pytest.mark.parametrize('exc', [RuntimeError('disk gone'),
                                 KeyboardInterrupt()])
@pytest.mark.parametrize('size', [0, 16 * MiB])
def test_input_raising_aborts_multipart(store, exc, size):
    rec = Recorder(store.client)
    data = os.urandom(16 * MiB)
    with pytest.raises(type(exc)):
        store.add('broken', raising_source(data, 11 * MiB, exc), size)
    assert rec.count('CreateMultipartUpload') == 1
    assert rec.count('AbortMultipartUpload') == 1
    assert no_uploads_left(store)
    assert not object_exists(store, 'broken')


@pytest.mark.parametrize('declared, actual', [
    (16 * MiB, 12 * MiB),       # short, multipart
    (11 * MiB, 16 * MiB),       # long, multipart
    (3 * MiB, 2 * MiB),         # short, single PUT
    (3 * MiB, 4 * MiB),         # long, single PUT
])
def test_size_mismatch_leaves_nothing(store, declared, actual):
    rec = Recorder(store.client)
    data = os.urandom(actual)
    with pytest.raises(exceptions.SizeMismatch) as err:
        store.add('mismatch', chunks(data), declared)
    assert err.value.expected == declared
    assert rec.count('PutObject') == 0
    assert rec.count('CompleteMultipartUpload') == 0
    assert no_uploads_left(store)
    assert not object_exists(store, 'mismatch')


def test_failed_part_aborts_and_reports_s3_code(store):
    rec = Recorder(store.client)
    fail_on(store.client, 'UploadPart', 'SlowDown', 503,
            when=lambda params: params['PartNumber'] == 2)
    data = os.urandom(16 * MiB)
    with pytest.raises(exceptions.BackendError) as err:
        store.add('part-fails', io.BytesIO(data), len(data))
    assert err.value.code == 'SlowDown'
    assert 'SlowDown' in str(err.value) and 'part 2' in str(err.value)
    assert rec.count('AbortMultipartUpload') == 1
    assert rec.count('CompleteMultipartUpload') == 0
    assert no_uploads_left(store)
    assert not object_exists(store, 'part-fails')


def test_part_without_etag_aborts(store):
    def drop_etag(parsed, **kw):
        parsed.pop('ETag', None)
    store.client.meta.events.register('after-call.s3.UploadPart', drop_etag)
    data = os.urandom(11 * MiB)
    with pytest.raises(exceptions.BackendError) as err:
        store.add('no-etag', io.BytesIO(data), len(data))
    assert 'no ETag' in str(err.value)
    assert no_uploads_left(store)
    assert not object_exists(store, 'no-etag')


def test_failed_complete_aborts(store):
    fail_on(store.client, 'CompleteMultipartUpload', 'InternalError', 500)
    data = os.urandom(11 * MiB)
    with pytest.raises(exceptions.BackendError) as err:
        store.add('no-complete', io.BytesIO(data), len(data))
    assert err.value.code == 'InternalError'
    assert no_uploads_left(store)
    assert not object_exists(store, 'no-complete')


def test_failed_single_put_leaves_nothing(store):
    fail_on(store.client, 'PutObject', 'InternalError', 500)
    with pytest.raises(exceptions.BackendError) as err:
        store.add('put-fails', [b'abc' * 1000], 3000)
    assert err.value.code == 'InternalError'
    assert not object_exists(store, 'put-fails')


def test_lost_connection_on_put_removes_the_object(store):
    """A PUT whose answer is lost may have landed: it is deleted."""
    def land_then_drop(params, **kw):
        store.client.meta.events.unregister('before-call.s3.PutObject',
                                            land_then_drop)
        store.client.put_object(Bucket=BUCKET, Key='landed', Body=b'x')
        raise boto_exc.ConnectionClosedError(endpoint_url='https://' + HOST)
    store.client.meta.events.register('before-call.s3.PutObject',
                                      land_then_drop)
    with pytest.raises(exceptions.RemoteUnreachable):
        store.add('landed', [b'x'], 1)
    assert not object_exists(store, 'landed')


# -- duplicates and missing buckets -----------------------------------------------

def test_duplicate(store):
    store.add('dup', [b'first'], 5)
    with pytest.raises(exceptions.Duplicate) as err:
        store.add('dup', [b'second!'], 7)
    assert 'dup' in str(err.value) and "'cold'" in str(err.value)
    assert read_all(store, 's3://s3.amazonaws.com/images/dup') == b'first'
    assert no_uploads_left(store)


def test_missing_bucket_is_a_clear_error(tmp_path, aws):
    store = make_store(tmp_path)
    with pytest.raises(exceptions.BackendError) as err:
        store.add('img', [b'data'], 4)
    assert err.value.code == 'NoSuchBucket'
    assert "'images'" in str(err.value)
    assert 's3_store_create_bucket_on_put' in str(err.value)


@pytest.mark.parametrize('region', ['', 'eu-west-1'])
def test_create_bucket_on_put(tmp_path, aws, region):
    store = make_store(tmp_path, create_bucket_on_put='true',
                       region_name=region)
    result = store.add('img', [b'data'], 4)
    assert read_all(store, result.url) == b'data'
    where = store.client.get_bucket_location(Bucket=BUCKET)
    assert (where['LocationConstraint'] or 'us-east-1') == (
        region or 'us-east-1')


# -- reads, sizes, deletes ------------------------------------------------------

@pytest.mark.parametrize('offset, length', [
    (0, None), (10, 100), (0, 1), (3 * MiB - 5, None), (3 * MiB - 5, 100),
    (3 * MiB, None), (3 * MiB, 10), (0, 0), (7, 0), (MiB + 3, 2 * MiB)])
def test_get_range(store, offset, length):
    data = os.urandom(3 * MiB)
    url = store.add('ranged', io.BytesIO(data), len(data)).url
    end = None if length is None else offset + length
    assert read_all(store, url, offset=offset, length=length) == (
        data[offset:end])


def test_get_streams_in_chunks_and_closes(store):
    data = os.urandom(3 * MiB + 1)
    url = store.add('stream', io.BytesIO(data), len(data)).url
    it, size = store.get(url)
    assert size == len(data)
    pieces = list(it)
    assert max(len(p) for p in pieces) <= s3.READ_CHUNK_SIZE
    assert b''.join(pieces) == data
    it, _ = store.get(url)
    first = next(it)
    it.close()
    assert len(first) == MiB
    with pytest.raises(StopIteration):
        next(it)


def test_get_past_the_end_is_invalid(store):
    url = store.add('short', [b'0123456789'], 10).url
    with pytest.raises(exceptions.Invalid) as err:
        store.get(url, offset=11)
    assert '11' in str(err.value)


def test_get_size_and_delete(store):
    url = store.add('gone', [b'x' * 1234], 1234).url
    assert store.get_size(url) == 1234
    store.delete(url)
    assert not object_exists(store, 'gone')
    for call in (store.get_size, store.get, store.delete):
        with pytest.raises(exceptions.NotFound) as err:
            call(url)
        assert 's3://s3.amazonaws.com/images/gone' in str(err.value)


def test_forbidden_and_backend_errors_mapped(store):
    url = store.add('guarded', [b'abc'], 3).url
    fail_on(store.client, 'GetObject', 'AccessDenied', 403)
    with pytest.raises(exceptions.Forbidden) as err:
        store.get(url)
    assert 'AccessDenied' in str(err.value)
    fail_on(store.client, 'HeadObject', 'ServiceUnavailable', 503)
    with pytest.raises(exceptions.BackendError) as err:
        store.get_size(url)
    assert err.value.code == 'ServiceUnavailable'
    assert not isinstance(err.value, exceptions.RemoteUnreachable)


def test_unreachable_endpoint(tmp_path):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()                                   # nothing listens now
    store = make_store(tmp_path, host='http://127.0.0.1:%d' % port,
                       max_retries=0, connect_timeout=2)
    started = time.monotonic()
    ok, reason = store.check_reachable()
    assert not ok and '127.0.0.1:%d' % port in reason
    with pytest.raises(exceptions.RemoteUnreachable) as err:
        store.get_size('s3://127.0.0.1:%d/images/x' % port)
    assert '127.0.0.1:%d' % port in str(err.value)
    with pytest.raises(exceptions.RemoteUnreachable):
        store.add('x', [b'data'], 4)
    assert time.monotonic() - started < 20
    assert SECRET not in reason + str(err.value)


def test_check_reachable(tmp_path, aws):
    store = make_store(tmp_path)
    ok, reason = store.check_reachable()
    assert not ok and "'images'" in reason and 'does not exist' in reason
    store.client.create_bucket(Bucket=BUCKET)
    assert store.check_reachable() == (True, '')
    lazy = make_store(tmp_path, bucket='later', create_bucket_on_put='true')
    assert lazy.check_reachable() == (True, '')


# -- locations ------------------------------------------------------------------

def test_legacy_credential_urls_read_with_store_credentials(store):
    data = os.urandom(1000)
    store.add('legacy', [data], len(data))
    legacy = 's3://%s:%s@s3.amazonaws.com/images/legacy' % (OLD_ACCESS,
                                                            OLD_SECRET)
    signed = []
    store.client.meta.events.register(
        'before-send.s3',
        lambda request, **kw: signed.append(
            request.headers.get('Authorization', b'')))
    assert read_all(store, legacy) == data
    assert read_all(store, 's3+https://%s:%s@S3.AMAZONAWS.COM:443/images/'
                    'legacy' % (OLD_ACCESS, OLD_SECRET)) == data
    assert store.get_size(legacy) == len(data)
    assert signed
    for auth in signed:
        auth = auth.decode() if isinstance(auth, bytes) else auth
        assert 'Credential=%s/' % ACCESS in auth
        assert OLD_ACCESS not in auth
    loc = store.parse_location(legacy)
    assert (loc.bucket, loc.key) == ('images', 'legacy')
    assert loc.url == 's3://s3.amazonaws.com/images/legacy'
    for text in (repr(loc), loc.url):
        assert OLD_SECRET not in text and OLD_ACCESS not in text
    store.delete(legacy)
    assert not object_exists(store, 'legacy')


@pytest.mark.parametrize('url', [
    's3://s3.amazonaws.com/other-bucket/img',
    's3://s3.amazonaws.com/images2/img',
    's3://elsewhere.example.com/images/img',
    's3://s3.amazonaws.com:8443/images/img',
    's3://s3.amazonaws.com/images',
    's3://s3.amazonaws.com/images/../other/img',
    'file:///images/img',
])
def test_urls_outside_the_store_refused(store, url):
    with pytest.raises(exceptions.BadStoreUri) as err:
        store.get(url)
    assert "'cold'" in str(err.value) or 's3' in str(err.value)


def test_location_class_parses_legacy_urls():
    loc = s3.S3Location.from_url(
        's3://%s:%s@host:9000/bkt/a/b' % (OLD_ACCESS, OLD_SECRET), 'cold')
    assert (loc.bucket, loc.key) == ('bkt', 'a/b')
    assert loc.url == 's3://host:9000/bkt/a/b'
    assert OLD_SECRET not in repr(loc)


# -- secrets -------------------------------------------------------------------

def test_no_secret_in_reprs_errors_or_logs(store, caplog):
    caplog.set_level(logging.DEBUG)
    texts = [repr(store), str(store), repr(vars(store)), repr(store._creds)]
    data = os.urandom(11 * MiB)
    store.add('s1', [b'small'], 5)
    store.add('s2', io.BytesIO(data), len(data))
    legacy = 's3://%s:%s@s3.amazonaws.com/images/s2' % (ACCESS, SECRET)
    assert read_all(store, legacy, offset=5, length=10) == data[5:15]
    for bad in (lambda: store.add('s1', [b'x'], 1),
                lambda: store.get(legacy.replace('/s2', '/nope')),
                lambda: store.get(legacy.replace('/images/', '/other/')),
                lambda: store.add('s3', raising_source(
                    data, 6 * MiB, RuntimeError('input died')))):
        with pytest.raises(Exception) as err:
            bad()
        texts.append(str(err.value))
        texts.append(repr(err.value))
    fail_on(store.client, 'GetObject', 'SignatureDoesNotMatch', 403)
    with pytest.raises(exceptions.Forbidden) as err:
        store.get(legacy)
    texts.append(str(err.value))
    texts += [r.getMessage() for r in caplog.records]
    everything = '\n'.join(texts) + caplog.text
    assert SECRET not in everything
    assert ACCESS not in everything
    # botocore did log the signed request headers, with the key scrubbed.
    assert any(r.name.startswith('botocore') for r in caplog.records)
    assert 'Credential=***/' in everything


def test_short_body_is_a_size_mismatch(store, monkeypatch):
    data = os.urandom(2 * MiB)
    url = store.add('cut', io.BytesIO(data), len(data)).url

    def cut_body(parsed, **kw):
        parsed['Body'] = io.BytesIO(data[:MiB + 10])
    store.client.meta.events.register('after-call.s3.GetObject', cut_body)
    it, size = store.get(url)
    assert size == len(data)
    with pytest.raises(exceptions.SizeMismatch) as err:
        list(it)
    assert err.value.expected == len(data)
    assert err.value.actual == MiB + 10
    assert 's3://s3.amazonaws.com/images/cut' in str(err.value)


@pytest.mark.parametrize('image_id', ['odd id#frag?q=1', 'pct%41%2F', 'ü'])
def test_keys_are_percent_encoded_in_urls(tmp_path, aws, image_id):
    reg = make_registry(tmp_path, config_text(create_bucket_on_put='true'))
    result = reg.add(image_id, [b'payload'], 7)
    assert result.url.startswith('s3://s3.amazonaws.com/images/')
    assert '#' not in result.url and '?' not in result.url
    assert reg.resolve(result.url) == 'cold'
    assert read_all(reg['cold'], result.url) == b'payload'
    assert object_exists(reg['cold'], image_id)     # the key is the id
    reg.delete(result.url)
    assert not object_exists(reg['cold'], image_id)


# -- image ids (issue 8, finding 5): refused before a byte is sent, or
# -- percent-encoded so the URL reads back that same object

def keys_in(store):
    resp = store.client.list_objects_v2(Bucket=BUCKET)
    return sorted(o['Key'] for o in resp.get('Contents', []))


@pytest.mark.parametrize('image_id', [
    '\x00', 'na\udcffme', 'a\nb', '\x85', 'x' * 1025, '\u00e9' * 513, '.',
    '..', 'a/b', '', None, 7])
def test_ids_s3_cannot_store_are_refused_before_writing(store, image_id):
    store.add('victim', [b'VICTIM'])
    recorder = Recorder(store.client)
    with pytest.raises(exceptions.Invalid) as err:
        store.add(image_id, [b'X' * (6 * MiB)])
    assert repr(image_id) in str(err.value)
    assert recorder.ops == []                    # not even a HEAD
    assert keys_in(store) == ['victim'] and no_uploads_left(store)


@pytest.mark.parametrize('image_id', [
    'victim?x=1', 'a#b', '%2e%2e', 'x%2fy', '%41', 'x' * 300, 'x' * 1024,
    '\u00e9' * 512, '3f1e0c2a-9b7d-4c1e-8f00-2a6c5e4b7d11', 'a.b', 'a b',
    '\u00e9', 'a+b', 'a@b', 'a:b', '%'])
def test_other_ids_round_trip_to_their_own_object(store, image_id):
    victim = store.add('victim', [b'VICTIM'])
    res = store.add(image_id, [b'mine'])
    assert read_all(store, res.url) == b'mine'
    assert keys_in(store) == sorted(['victim', image_id])
    store.delete(res.url)
    assert keys_in(store) == ['victim']
    assert read_all(store, victim.url) == b'VICTIM'


@pytest.mark.parametrize('url', [
    's3://s3.amazonaws.com/images/na\udcffme',
    's3://s3.amazonaws.com/images/%ff',          # not UTF-8: not U+FFFD's key
    's3://s3.amazonaws.com/images/a\x00b', None, b's3://x/images/k'])
def test_odd_location_urls_are_bad_store_uri(store, url):
    store.add('\ufffd', [b'replacement char'])
    for call in (store.get, store.delete, store.get_size):
        with pytest.raises(exceptions.BadStoreUri) as err:
            call(url)
        str(err.value).encode('utf-8')
    assert keys_in(store) == ['\ufffd']


def test_secret_holding_another_secret_is_scrubbed_whole():
    from store_kit import driver
    scrubber = driver._SecretFilter()
    longs = ['AKIA%016dLONG' % i for i in range(20)]
    for key in longs:                  # e.g. another store's shorter key
        scrubber.add(key[:12], key)
    for key in longs:
        assert scrubber.scrub('Credential=%s/x' % key) == 'Credential=***/x'
