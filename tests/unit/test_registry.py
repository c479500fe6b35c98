"""Registry: config validation, the location map, routing and backfill."""

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import store_kit
from store_kit import exceptions
from store_kit import location
from tests.helpers import make_registry


def two_file_stores(tmp_path, extra=''):
    return """
        [DEFAULT]
        enabled_backends = fast:file, slow:file
        [store_kit]
        default_backend = fast
        [fast]
        filesystem_store_datadir = %(d)s/fast
        [slow]
        filesystem_store_datadirs = %(d)s/slow-a:10
        filesystem_store_datadirs = %(d)s/slow-b:5
        %(extra)s
        """ % {'d': tmp_path, 'extra': extra}


def test_names_default_and_location_map(tmp_path):
    reg = make_registry(tmp_path, two_file_stores(tmp_path))
    assert reg.names() == ['fast', 'slow']
    assert reg.default is reg['fast']
    assert isinstance(reg, store_kit.StoreRegistry)
    assert store_kit.get_location_map() is reg.location_map
    entry = reg.location_map['slow']
    assert entry['store'] is reg['slow']
    assert entry['store_entry'] == 'file'
    assert entry['location_class'] is type(reg['slow']).location_class
    assert reg['slow'].url_prefixes == ['file://%s/slow-a' % tmp_path,
                                        'file://%s/slow-b' % tmp_path]
    assert reg['fast'].url_prefix == 'file://%s/fast' % tmp_path


def test_config_order_is_kept(tmp_path):
    text = two_file_stores(tmp_path).replace('fast:file, slow:file',
                                             'slow:file, fast:file')
    assert make_registry(tmp_path, text).names() == ['slow', 'fast']


def test_unknown_store_is_keyerror_like(tmp_path):
    reg = make_registry(tmp_path, two_file_stores(tmp_path))
    with pytest.raises(KeyError):
        reg['nope']
    with pytest.raises(exceptions.UnknownStore) as err:
        reg['nope']
    assert 'nope' in str(err.value) and 'fast' in str(err.value)


def bad(tmp_path, text):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_registry(tmp_path, text)
    return err.value


def test_unknown_driver_lists_known_ones(tmp_path):
    err = bad(tmp_path, two_file_stores(tmp_path).replace('slow:file',
                                                          'slow:ftp'))
    assert (err.section, err.option) == ('DEFAULT', 'enabled_backends')
    assert "'ftp'" in str(err) and 'file' in str(err) and 's3' in str(err)


def test_default_backend_missing_or_not_enabled(tmp_path):
    text = two_file_stores(tmp_path)
    err = bad(tmp_path, text.replace('default_backend = fast', ''))
    assert (err.section, err.option) == ('store_kit', 'default_backend')
    err = bad(tmp_path, text.replace('default_backend = fast',
                                     'default_backend = cold'))
    assert "'cold'" in str(err) and '[store_kit] default_backend' in str(err)


def test_no_store_enabled(tmp_path):
    err = bad(tmp_path, '[store_kit]\ndefault_backend = x\n')
    assert err.option == 'enabled_backends'


@pytest.mark.parametrize('name', ['store_kit', 'DEFAULT'])
def test_store_name_clashing_with_fixed_group(tmp_path, name):
    text = two_file_stores(tmp_path).replace('slow:file', '%s:file' % name)
    err = bad(tmp_path, text)
    assert name in str(err) and err.option == 'enabled_backends'


def test_invalid_option_value_names_section_and_option(tmp_path):
    err = bad(tmp_path, two_file_stores(
        tmp_path, '[fast]\nfilesystem_store_chunk_size = lots\n'))
    assert (err.section, err.option) == ('fast',
                                         'filesystem_store_chunk_size')
    assert '[fast] filesystem_store_chunk_size' in str(err)
    assert "'lots'" in str(err) and 'LocationInfo' not in str(err)


def test_out_of_range_value_is_named(tmp_path):
    err = bad(tmp_path, two_file_stores(
        tmp_path, '[fast]\nfilesystem_store_chunk_size = 0\n'))
    assert str(err) == ("[fast] filesystem_store_chunk_size: invalid value "
                        "'0': Should be greater than or equal to 1")


def test_secret_values_are_never_echoed(tmp_path):
    text = two_file_stores(tmp_path).replace('slow:file', 'slow:s3') + (
        '[slow]\ns3_store_secret_key = hush\ns3_store_thread_pools = x\n')
    err = bad(tmp_path, text)
    assert 'hush' not in str(err)


def test_bad_hashing_algorithm(tmp_path):
    err = bad(tmp_path, two_file_stores(tmp_path).replace(
        'default_backend = fast',
        'default_backend = fast\nhashing_algorithm = nope'))
    assert (err.section, err.option) == ('store_kit', 'hashing_algorithm')


def test_two_stores_same_prefix_names_both(tmp_path):
    text = two_file_stores(tmp_path).replace(
        '%s/fast' % tmp_path, '%s/slow-a/' % tmp_path)
    err = bad(tmp_path, text)
    assert "'fast'" in str(err) and "'slow'" in str(err)
    assert '%s/slow-a' % tmp_path in str(err)


def test_register_opts_before_or_after_parsing(tmp_path):
    from oslo_config import cfg
    path = tmp_path / 'c.conf'
    path.write_text('[DEFAULT]\nenabled_backends = a:file\n'
                    '[store_kit]\ndefault_backend = a\n'
                    '[a]\nfilesystem_store_datadir = %s/a\n' % tmp_path)
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], default_config_files=[])
    store_kit.register_opts(conf)          # after parsing
    store_kit.register_opts(conf)          # and twice
    assert store_kit.create_stores(conf).names() == ['a']


# -- routing and backfill -------------------------------------------------

def test_add_get_delete_route_by_resolution(tmp_path):
    reg = make_registry(tmp_path, two_file_stores(tmp_path))
    res = reg.add('img-1', io.BytesIO(b'hello'), 5)
    assert res.metadata == {'store': 'fast'}
    res2 = reg.add('img-2', [b'he', b'llo'], store='slow')
    assert res2.url.startswith('file://%s/slow-a/' % tmp_path)
    it, size = reg.get(res2.url)
    assert (b''.join(it), size) == (b'hello', 5)
    assert reg.get_size(res.url) == 5
    reg.delete(res2.url)
    with pytest.raises(exceptions.NotFound):
        reg.get_size(res2.url, store='slow')


def test_routing_never_tries_other_stores(tmp_path):
    reg = make_registry(tmp_path, two_file_stores(tmp_path))
    with pytest.raises(exceptions.BadStoreUri) as err:
        reg.get('file:///etc/passwd')
    assert 'no enabled store owns' in str(err.value)
    # naming the wrong store: refused by that store's confinement
    res = reg.add('img-3', [b'x'])
    with pytest.raises(exceptions.BadStoreUri):
        reg.get(res.url, store='slow')


def test_backfill(tmp_path):
    reg = make_registry(tmp_path, two_file_stores(tmp_path))
    locs = [
        {'url': 'file://%s/fast/a' % tmp_path, 'metadata': {}},
        {'url': 'file://%s/slow-b/b' % tmp_path},
        {'url': 'file://%s/slow-b/c' % tmp_path,
         'metadata': {'store': 'gone'}},
        {'url': 'file://%s/fast/d' % tmp_path,
         'metadata': {'store': 'slow', 'x': 1}},     # valid: left alone
        {'url': 'http://nowhere/e', 'metadata': {}},  # unresolvable
    ]
    assert reg.backfill(locs) == 3
    assert [loc.get('metadata', {}).get('store') for loc in locs] == [
        'fast', 'slow', 'slow', 'slow', None]
    assert locs[3]['metadata']['x'] == 1
    assert reg.backfill(locs) == 0


def test_only_enabled_drivers_are_imported(tmp_path):
    import subprocess
    import sys
    conf = tmp_path / 'c.conf'
    conf.write_text('[DEFAULT]\nenabled_backends = a:file\n'
                    '[store_kit]\ndefault_backend = a\n'
                    '[a]\nfilesystem_store_datadir = %s/a\n' % tmp_path)
    code = ('import sys, store_kit; from oslo_config import cfg\n'
            'c = cfg.ConfigOpts(); store_kit.register_opts(c)\n'
            'c(["--config-file", %r], default_config_files=[])\n'
            'store_kit.create_stores(c)\n'
            'print("boto3" in sys.modules, "store_kit.drivers.s3" in '
            'sys.modules)' % str(conf))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ['False', 'False']


def test_broken_driver_names_its_error(tmp_path, monkeypatch):
    from stevedore import named
    from store_kit import registry as registry_mod

    class Broken(named.NamedExtensionManager):
        def __init__(self, namespace, names, invoke_on_load,
                     on_load_failure_callback):
            on_load_failure_callback(self, None,
                                     ImportError('No module named boto9'))
            self.extensions = []

        def __iter__(self):
            return iter([])
    monkeypatch.setattr(registry_mod.named, 'NamedExtensionManager', Broken)
    monkeypatch.setattr(registry_mod, '_DRIVERS', {})
    err = bad(tmp_path, two_file_stores(tmp_path))
    assert 'failed to load' in str(err) and 'boto9' in str(err)


# -- legacy s3 URLs with unusual secrets (issue 8) --------------------------

def s3_stores(tmp_path):
    stores = [('imgs', 'http://127.0.0.1:5810', 'imgs'),
              ('pool1', 'https://h', 'pool1'), ('pool10', 'https://h', 'pool10')]
    text = ['[DEFAULT]', 'enabled_backends = %s'
            % ', '.join('%s:s3' % s[0] for s in stores),
            '[store_kit]', 'default_backend = imgs']
    for name, host, bucket in stores:
        text += ['[%s]' % name, 's3_store_host = %s' % host,
                 's3_store_bucket = %s' % bucket,
                 's3_store_access_key = AKIASTOREKIT', 's3_store_secret_key = sk']
    return make_registry(tmp_path, '\n'.join(text))


SECRET_URL = ('s3://AKIAIOSFODNN7EXAMPLE:9/alrXUtnFEMISECRETKEY+bPxRfiCY'
              '@127.0.0.1:5810/imgs/img')


@pytest.mark.parametrize('url,owner', [
    (SECRET_URL, 'imgs'),
    ('s3://h/pool1/x:y@h/pool10/obj', 'pool1'),
    ('s3://h/pool10/obj', 'pool10'),
])
def test_legacy_s3_urls_resolve_to_their_store(tmp_path, url, owner):
    reg = s3_stores(tmp_path)
    assert reg.resolve(url) == owner
    assert reg.resolve(url) == owner           # memoised walk
    assert reg[owner].owns(url)
    loc = reg[owner].parse_location(url)
    assert loc.bucket == owner
    assert '9/alr' not in repr(loc) and 'SECRETKEY' not in repr(loc)
    locs = [{'url': url, 'metadata': {}}]
    assert reg.backfill(locs) == 1 and locs[0]['metadata'] == {'store': owner}


# -- nested stores (issue 8, finding 10) -------------------------------------

def file_stores(tmp_path, a, b, order='a:file, b:file'):
    return """
        [DEFAULT]
        enabled_backends = %s
        [store_kit]
        default_backend = a
        [a]
        filesystem_store_datadir = %s
        [b]
        filesystem_store_datadir = %s
        """ % (order, a, b)


@pytest.mark.parametrize('order', ['a:file, b:file', 'b:file, a:file'])
def test_store_inside_another_store_is_refused(tmp_path, order):
    err = bad(tmp_path, file_stores(tmp_path, '%s/d1' % tmp_path,
                                    '%s/d1/sub' % tmp_path, order))
    assert err.section == 'a'
    msg = str(err)
    assert "'a'" in msg and "'b'" in msg
    assert 'file://%s/d1)' % tmp_path in msg and 'file://%s/d1/sub' % tmp_path in msg


def test_store_inside_another_through_a_symlink_is_refused(tmp_path):
    (tmp_path / 'd1' / 'sub').mkdir(parents=True)
    os.symlink(str(tmp_path / 'd1' / 'sub'), str(tmp_path / 'link'))
    err = bad(tmp_path, file_stores(tmp_path, '%s/d1' % tmp_path,
                                    '%s/link' % tmp_path))
    assert "'a'" in str(err) and "'b'" in str(err)
    assert 'file://%s/d1/sub' % tmp_path in str(err)


def test_sibling_stores_are_fine(tmp_path):
    reg = make_registry(tmp_path, file_stores(tmp_path, '%s/d1' % tmp_path,
                                              '%s/d10' % tmp_path))
    assert reg.resolve('file://%s/d10/x' % tmp_path) == 'b'


def test_http_stores_may_nest(tmp_path):
    reg = make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = a:file, outer:http, inner:http
        [store_kit]
        default_backend = a
        [a]
        filesystem_store_datadir = %s/a
        [outer]
        http_store_url_prefixes = https://cdn.example.com/pub
        [inner]
        http_store_url_prefixes = https://cdn.example.com/pub/mirror
        """ % tmp_path)
    assert reg.resolve('https://cdn.example.com/pub/mirror/x') == 'inner'
    assert reg.resolve('https://cdn.example.com/pub/x') == 'outer'


# -- whatever the URL, only store_kit errors leave ----------------------------

URL_PIECES = st.sampled_from(
    list('abAZ09:/@?#%[]._-~+ \u00e9\x00\n\udcff') +
    ['://', '%2f', '%ff', '%41', '..', '[::1]', ':99999', ':0', ':\u0663'])
URL_SCHEMES = st.sampled_from(['s3://', 'S3+HTTP://', 'file://', 'filesystem://',
                               'http://', 'https://', 'ftp://', '', '://'])


@pytest.fixture(scope='module')
def every_driver(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('every-driver')
    return make_registry(tmp, """
        [DEFAULT]
        enabled_backends = fs:file, c:s3, web:http, cdn:http
        [store_kit]
        default_backend = fs
        [fs]
        filesystem_store_datadir = %s/data
        [c]
        s3_store_host = http://127.0.0.1:1
        s3_store_bucket = bkt
        s3_store_access_key = AK
        s3_store_secret_key = SK
        [cdn]
        http_store_url_prefixes = https://cdn.example.com/pub
        """ % tmp)


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scheme=URL_SCHEMES, body=st.lists(URL_PIECES, max_size=20).map(''.join))
def test_any_url_text_gives_store_kit_errors_only(every_driver, scheme, body):
    url = scheme + body
    every_driver.resolve(url)
    every_driver.equivalent_keys(url)
    location.url_key(url)
    location.redact(url).encode('utf-8')
    location.redact_text(url).encode('utf-8')
    keys = []
    for parse in (lambda u: location.parse(u).key, location.match_key):
        try:
            keys.append(parse(url))
        except exceptions.StoreKitError:
            keys.append('refused')
    assert keys[0] == keys[1]               # the fast path agrees
    for fn in [location.normal_form, location.strip_credentials] + [
            s.parse_location for s in every_driver]:
        try:
            fn(url)
        except exceptions.StoreKitError as exc:
            str(exc).encode('utf-8')
