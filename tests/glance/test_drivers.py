"""The glance_store adapters in-process: loaded by glance_store's own
multi-store code beside its stock drivers, url_prefix, confinement, error
mapping, signature verifier."""

import hashlib
import io
import os

import pytest
from glance_store import capabilities as gs_caps
from glance_store import exceptions as gs_exc
from glance_store import location as gs_location
from glance_store import multi_backend
from oslo_config import cfg

from store_kit import exceptions as sk
from store_kit.glance import drivers, errors


@pytest.fixture
def glance_conf(tmp_path):
    """A glance-style config with two store_kit file stores sharing a prefix
    and one stock glance_store file store, loaded the way glance does."""
    text = """
[DEFAULT]
enabled_backends = pool1:store_kit_file, pool10:store_kit_file, stock:file
[glance_store]
default_backend = pool1
[pool1]
filesystem_store_datadir = {d}/pool1
[pool10]
filesystem_store_datadir = {d}/pool10
store_description = tenth
weight = 7
[stock]
filesystem_store_datadir = {d}/stock
""".format(d=tmp_path)
    path = tmp_path / 'glance-api.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.DictOpt('enabled_backends'))
    conf(['--config-file', str(path)], project='glance')
    saved = {k: dict(v) for k, v in gs_location.SCHEME_TO_CLS_BACKEND_MAP.items()}
    multi_backend.register_store_opts(conf)
    multi_backend.create_multi_stores(conf)
    yield conf, tmp_path
    gs_location.SCHEME_TO_CLS_BACKEND_MAP.clear()
    gs_location.SCHEME_TO_CLS_BACKEND_MAP.update(saved)


def backend(name):
    return gs_location.SCHEME_TO_CLS_BACKEND_MAP['file'][name]['store']


def location(url, name):
    return gs_location.get_location_from_uri_and_backend(url, name)


def glance_rule(url):
    """glance's GET backfill: the first store whose url_prefix the raw URL
    starts with (glance/common/store_utils.py)."""
    scheme = url.split('://', 1)[0]
    for name, info in gs_location.SCHEME_TO_CLS_BACKEND_MAP[scheme].items():
        prefix = info['store'].url_prefix
        if prefix and url.startswith(prefix):
            return name
    return None


def test_loaded_beside_stock_driver(glance_conf):
    conf, d = glance_conf
    assert isinstance(backend('pool1'), drivers.FileStore)
    assert type(backend('stock')).__module__ == 'glance_store._drivers.filesystem'
    # the type name is one of the schemes: glance finds the store by it
    by_type = gs_location.SCHEME_TO_CLS_BACKEND_MAP['store_kit_file']
    assert set(by_type) == {'pool1', 'pool10'}
    assert backend('pool10').weight == 7
    assert conf.pool10.store_description == 'tenth'


def test_url_prefix_ends_at_path_boundary(glance_conf):
    _, d = glance_conf
    assert backend('pool1').url_prefix == ('file://%s/pool1/' % d,
                                           'filesystem://%s/pool1/' % d)
    assert glance_rule('file://%s/pool10/abc' % d) == 'pool10'
    assert glance_rule('file://%s/pool1/abc' % d) == 'pool1'
    assert glance_rule('filesystem://%s/pool1/abc' % d) == 'pool1'


def test_add_get_size_delete(glance_conf):
    _, d = glance_conf
    store = backend('pool10')
    data = os.urandom(300000)
    url, size, md5, multihash, meta = store.add(
        'img-1', io.BytesIO(data), len(data), 'sha256')
    assert url == 'file://%s/pool10/img-1' % d
    assert (size, md5, multihash, meta) == (
        len(data), hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest(), {'store': 'pool10'})
    loc = location(url, 'pool10')
    chunks, got = store.get(loc)
    assert got == len(data) and b''.join(chunks) == data
    chunks, got = store.get(loc, offset=10, chunk_size=5)
    assert got == 5 and b''.join(chunks) == data[10:15]
    assert store.get_size(loc) == len(data)
    store.delete(loc)
    with pytest.raises(gs_exc.NotFound):
        store.get(loc)
    with pytest.raises(gs_exc.NotFound):
        store.delete(loc)


def test_duplicate_and_short_input(glance_conf):
    store = backend('pool1')
    store.add('dup', io.BytesIO(b'abc'), 3, 'sha512')
    with pytest.raises(gs_exc.Duplicate):
        store.add('dup', io.BytesIO(b'abc'), 3, 'sha512')
    with pytest.raises(gs_exc.Invalid):
        store.add('short', io.BytesIO(b'abc'), 10, 'sha512')
    assert not os.path.exists(os.path.join(
        store.store.real_datadirs[0], 'short'))


def test_refuses_urls_of_another_store(glance_conf):
    _, d = glance_conf
    backend('pool10').add('mine', io.BytesIO(b'x' * 10), 10, 'sha512')
    loc = location('file://%s/pool10/mine' % d, 'pool1')
    with pytest.raises(gs_exc.BadStoreUri):
        backend('pool1').get(loc)
    with pytest.raises(gs_exc.BadStoreUri):
        backend('pool1').delete(loc)
    assert os.path.exists('%s/pool10/mine' % d)
    loc_cls = backend('pool1').get_store_location_class()
    with pytest.raises(gs_exc.BadStoreUri):
        loc_cls({}, None).parse_uri('s3://host/bucket/key')


def test_capabilities():
    caps = drivers.glance_capabilities(drivers.sk_driver.Capabilities.ALL)
    assert gs_caps.StoreCapability.contains(
        caps, gs_caps.BitMasks.READ_RANDOM | gs_caps.BitMasks.WRITE_ACCESS
        | gs_caps.BitMasks.DRIVER_REUSABLE)
    ro = drivers.glance_capabilities(drivers.sk_driver.Capabilities.READ
                                     | drivers.sk_driver.Capabilities.READ_OFFSET)
    assert ro & gs_caps.BitMasks.WRITE_ACCESS == 0
    assert gs_caps.StoreCapability.contains(ro, gs_caps.BitMasks.READ_RANDOM)


def test_verifier_sees_every_byte(glance_conf):
    class Verifier:
        def __init__(self):
            self.h = hashlib.sha256()

        def update(self, block):
            self.h.update(block)

    data = os.urandom(3 << 20)
    verifier = Verifier()
    backend('pool1').add('signed', io.BytesIO(data), len(data), 'sha512',
                         verifier=verifier)
    assert verifier.h.hexdigest() == hashlib.sha256(data).hexdigest()


def test_bad_option_fails_start_naming_it(tmp_path):
    path = tmp_path / 'glance-api.conf'
    path.write_text('[DEFAULT]\nenabled_backends = fast:store_kit_file\n'
                    '[fast]\nfilesystem_store_datadir = relative/dir\n')
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.DictOpt('enabled_backends'))
    conf(['--config-file', str(path)], project='glance')
    store = drivers.FileStore(conf, 'fast')
    with pytest.raises(gs_exc.BadStoreConfiguration) as info:
        store.configure()
    assert '[fast] filesystem_store_datadir' in str(info.value)


def test_single_store_mode_refused():
    conf = cfg.ConfigOpts()
    with pytest.raises(gs_exc.BadStoreConfiguration) as info:
        drivers.FileStore(conf)
    assert 'enabled_backends' in str(info.value)


@pytest.mark.parametrize('error, action, expected', [
    (sk.ImageNotFound('gone'), 'get', gs_exc.NotFound),
    (sk.NotFound('gone'), 'delete', gs_exc.NotFound),
    (sk.Duplicate('twice'), 'add', gs_exc.Duplicate),
    (sk.StorageFull('full'), 'add', gs_exc.StorageFull),
    (sk.StorageQuotaFull('quota'), 'add', gs_exc.StorageFull),
    (sk.ReadOnlyStore('ro'), 'add', gs_exc.StoreAddDisabled),
    (sk.ReadOnlyStore('ro'), 'delete', gs_exc.StoreDeleteNotSupported),
    (sk.Forbidden('no'), 'add', gs_exc.StorageWriteDenied),
    (sk.Forbidden('no'), 'get', gs_exc.Forbidden),
    (sk.SizeMismatch(3, 2), 'add', gs_exc.Invalid),
    (sk.SizeMismatch(3, 2), 'get', gs_exc.BackendException),
    (sk.BadStoreUri('bad'), 'get', gs_exc.BadStoreUri),
    (sk.Invalid('bad'), 'get', gs_exc.Invalid),
    (sk.MaxRedirectsExceeded('loop'), 'get', gs_exc.MaxRedirectsExceeded),
    (sk.RemoteUnreachable('down'), 'get', gs_exc.RemoteServiceUnavailable),
    (sk.BackendError('boom', code='X'), 'get', gs_exc.BackendException),
    (sk.ChecksumMismatch('bits'), 'get', gs_exc.BackendException),
    (sk.BadStoreConfiguration('s', 'o', 'why'), 'configure',
     gs_exc.BadStoreConfiguration),
])
def test_error_mapping(error, action, expected):
    with pytest.raises(expected) as info:
        with errors.translate(action):
            raise error
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_error_messages_lose_url_secrets():
    exc = errors.to_glance(sk.NotFound(
        'object s3://AK:SECRET@host/bucket/key missing'))
    assert 'SECRET' not in str(exc) and 'AK' not in str(exc)
