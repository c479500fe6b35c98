"""The http store (store_kit.drivers.http) against requests-mock."""

import io
import socket

import pytest
import requests

from store_kit import exceptions
from store_kit.drivers import http as http_mod
from tests.helpers import make_registry

DATA = bytes(range(256)) * 4            # 1024 bytes
SECRET = 'Pa55w0rdXYZ'


def conf_text(stores, default=None):
    """Config text for *stores*: {name: {option: value}} (all http)."""
    enabled = ', '.join('%s:http' % n for n in stores)
    lines = ['[DEFAULT]',
             'enabled_backends = %s' % enabled,
             '[store_kit]',
             'default_backend = %s' % (default or next(iter(stores)))]
    for name, opts in stores.items():
        lines.append('[%s]' % name)
        lines.extend('%s = %s' % kv for kv in opts.items())
    return '\n'.join(lines) + '\n'


@pytest.fixture
def make_store(tmp_path):
    def make(**opts):
        return make_registry(tmp_path, conf_text({'web': opts}))['web']
    return make


@pytest.fixture
def store(make_store):
    return make_store()


def read(store, url, **kw):
    it, size = store.get(url, **kw)
    with it:
        body = b''.join(it)
    return body, size


def cl(n):
    return {'Content-Length': str(n)}


# -- reading ----------------------------------------------------------------

def test_get_whole(store, requests_mock):
    requests_mock.get('https://h/img', content=DATA, headers=cl(len(DATA)))
    assert read(store, 'https://h/img') == (DATA, len(DATA))
    req = requests_mock.last_request
    assert 'Range' not in req.headers
    assert req.headers['Accept-Encoding'] == 'identity'
    assert req.timeout == (30.0, 30.0)
    assert req.verify not in (False, None)


def test_get_keeps_query_and_drops_fragment(store, requests_mock):
    requests_mock.get('https://h/img?sig=abc', content=DATA,
                      headers=cl(len(DATA)))
    assert read(store, 'https://h/img?sig=abc#frag')[0] == DATA
    assert requests_mock.last_request.url == 'https://h/img?sig=abc'


@pytest.mark.parametrize('offset,length,header', [
    (10, 20, 'bytes=10-29'),
    (0, 5, 'bytes=0-4'),
    (1000, None, 'bytes=1000-'),
])
def test_get_range(store, requests_mock, offset, length, header):
    end = len(DATA) - 1 if length is None else offset + length - 1
    part = DATA[offset:end + 1]
    requests_mock.get('http://h/img', status_code=206, content=part,
                      headers={'Content-Range': 'bytes %d-%d/%d'
                               % (offset, end, len(DATA)),
                               'Content-Length': str(len(part))})
    assert read(store, 'http://h/img', offset=offset, length=length) == (
        part, len(part))
    assert requests_mock.last_request.headers['Range'] == header


def test_range_running_past_the_end_is_trimmed_by_the_server(store,
                                                             requests_mock):
    requests_mock.get('http://h/img', status_code=206, content=DATA[1000:],
                      headers={'Content-Range': 'bytes 1000-1023/1024'})
    assert read(store, 'http://h/img', offset=1000, length=100) == (
        DATA[1000:], 24)


@pytest.mark.parametrize('offset,length', [(10, 20), (100, None), (0, 7),
                                           (1023, 5)])
def test_server_ignoring_range_is_skipped_and_trimmed(store, requests_mock,
                                                      offset, length):
    requests_mock.get('http://h/img', content=DATA, headers=cl(len(DATA)))
    body, size = read(store, 'http://h/img', offset=offset, length=length)
    end = None if length is None else offset + length
    expected = DATA[offset:end]
    assert (body, size) == (expected, len(expected))


def test_server_ignoring_range_offset_past_end(store, requests_mock):
    requests_mock.get('http://h/img', content=DATA, headers=cl(len(DATA)))
    with pytest.raises(exceptions.Invalid, match='offset 2000'):
        store.get('http://h/img', offset=2000)


def test_partial_response_from_wrong_offset_is_an_error(store,
                                                        requests_mock):
    requests_mock.get('http://h/img', status_code=206, content=DATA[:20],
                      headers={'Content-Range': 'bytes 0-19/1024'})
    with pytest.raises(exceptions.BackendError, match='from 10.*0-19'):
        store.get('http://h/img', offset=10, length=20)


def test_partial_response_shorter_than_asked_is_an_error(store,
                                                         requests_mock):
    requests_mock.get('http://h/img', status_code=206, content=DATA[10:15],
                      headers={'Content-Range': 'bytes 10-14/1024'})
    with pytest.raises(exceptions.BackendError, match='only bytes 10-14'):
        store.get('http://h/img', offset=10, length=20)
    with pytest.raises(exceptions.BackendError, match='only bytes 10-14'):
        store.get('http://h/img', offset=10)


def test_partial_response_without_content_range_is_an_error(store,
                                                            requests_mock):
    requests_mock.get('http://h/img', status_code=206, content=DATA[10:30])
    with pytest.raises(exceptions.BackendError, match='Content-Range'):
        store.get('http://h/img', offset=10, length=20)


def test_range_not_satisfiable(store, requests_mock):
    requests_mock.get('http://h/img', status_code=416,
                      headers={'Content-Range': 'bytes */1024'})
    assert read(store, 'http://h/img', offset=1024) == (b'', 0)
    with pytest.raises(exceptions.Invalid, match=r'offset 2000.*1024 bytes'):
        store.get('http://h/img', offset=2000)


def test_zero_length_read_checks_the_offset(store, requests_mock):
    requests_mock.head('http://h/img', headers=cl(1024))
    assert read(store, 'http://h/img', offset=1024, length=0) == (b'', 0)
    with pytest.raises(exceptions.Invalid, match='offset 1025'):
        store.get('http://h/img', offset=1025, length=0)


@pytest.mark.parametrize('kw', [{}, {'offset': 10, 'length': 100}])
def test_body_shorter_than_announced_is_an_error(store, requests_mock, kw):
    if kw:
        requests_mock.get('http://h/img', status_code=206, content=DATA[:50],
                          headers={'Content-Range': 'bytes 10-109/1024',
                                   'Content-Length': '100'})
        expected = 100
    else:
        requests_mock.get('http://h/img', content=DATA[:50],
                          headers=cl(len(DATA)))
        expected = len(DATA)
    it, size = store.get('http://h/img', **kw)
    assert size == expected
    with pytest.raises(exceptions.SizeMismatch) as err:
        b''.join(it)
    assert err.value.expected == expected
    assert 'http://h/img' in str(err.value)


def test_no_content_length_on_get_uses_head(store, requests_mock):
    requests_mock.get('http://h/img', content=DATA)
    requests_mock.head('http://h/img', headers=cl(len(DATA)))
    assert read(store, 'http://h/img') == (DATA, len(DATA))


def test_no_content_length_body_longer_than_head_said(store, requests_mock):
    requests_mock.get('http://h/img', content=DATA)
    requests_mock.head('http://h/img', headers=cl(100))
    it, size = store.get('http://h/img')
    assert size == 100
    with pytest.raises(exceptions.SizeMismatch, match='more than 100'):
        b''.join(it)


def test_read_timeout_mid_body(store, requests_mock):
    class Stalls(io.RawIOBase):
        sent = False

        def readable(self):
            return True

        def readinto(self, buf):
            if self.sent:
                raise socket.timeout('timed out')
            self.sent = True
            buf[:3] = b'abc'
            return 3

    requests_mock.get('http://h/img', body=Stalls(), headers=cl(10))
    it, size = store.get('http://h/img')
    with pytest.raises(exceptions.RemoteUnreachable, match='after 3 bytes'):
        b''.join(it)


def test_close_releases_the_response(store, requests_mock):
    body = io.BytesIO(DATA * 100)
    requests_mock.get('http://h/img', body=body, headers=cl(len(DATA) * 100))
    it, _ = store.get('http://h/img')
    assert next(it)
    assert not body.closed
    it.close()
    assert body.closed
    with pytest.raises(StopIteration):
        next(it)


# -- size -------------------------------------------------------------------

def test_get_size_from_head(store, requests_mock):
    requests_mock.head('http://h/img', headers=cl(1234))
    assert store.get_size('http://h/img') == 1234


def test_get_size_falls_back_to_ranged_get(store, requests_mock):
    requests_mock.head('http://h/img')           # no Content-Length
    requests_mock.get('http://h/img', status_code=206, content=b'x',
                      headers={'Content-Range': 'bytes 0-0/4321'})
    assert store.get_size('http://h/img') == 4321
    assert requests_mock.last_request.headers['Range'] == 'bytes=0-0'


def test_get_size_head_not_allowed(store, requests_mock):
    requests_mock.head('http://h/img', status_code=405)
    requests_mock.get('http://h/img', status_code=206, content=b'x',
                      headers={'Content-Range': 'bytes 0-0/77'})
    assert store.get_size('http://h/img') == 77


def test_get_size_of_empty_object(store, requests_mock):
    requests_mock.head('http://h/img')
    requests_mock.get('http://h/img', status_code=416,
                      headers={'Content-Range': 'bytes */0'})
    assert store.get_size('http://h/img') == 0


def test_get_size_unknown_is_an_error_never_zero(store, requests_mock):
    requests_mock.head('http://h/img')
    requests_mock.get('http://h/img', content=DATA)      # no length at all
    with pytest.raises(exceptions.BackendError,
                       match='cannot tell the size of http://h/img'):
        store.get_size('http://h/img')
    with pytest.raises(exceptions.BackendError, match='cannot tell the size'):
        store.get('http://h/img')


def test_get_size_not_found(store, requests_mock):
    requests_mock.head('http://h/img', status_code=404)
    with pytest.raises(exceptions.NotFound, match='http://h/img'):
        store.get_size('http://h/img')


# -- redirects ----------------------------------------------------------------

@pytest.mark.parametrize('code', [301, 302, 303, 307, 308])
def test_each_redirect_code_is_followed(store, requests_mock, code):
    requests_mock.get('http://h/a', status_code=code,
                      headers={'Location': 'http://other/b'})
    requests_mock.get('http://other/b', content=DATA, headers=cl(len(DATA)))
    assert read(store, 'http://h/a') == (DATA, len(DATA))
    assert [r.url for r in requests_mock.request_history] == [
        'http://h/a', 'http://other/b']


@pytest.mark.parametrize('opts,target,allowed', [
    ({}, 'http://h/elsewhere/b', True),                 # same host
    ({}, 'https://mirror.example.com/pub/b', True),     # our other prefix
    ({}, 'http://169.254.169.254/latest/meta-data', False),
    ({}, 'http://h:8080/pub/b', False),                 # same name, other port
    ({'http_redirect_allowed_hosts': 'cdn.example.com'},
     'http://CDN.example.com/b', True),
    ({'http_redirect_allowed_hosts': 'cdn.example.com'},
     'http://cdn.example.com:8080/b', False),
    ({'http_redirect_allowed_hosts': '*'}, 'http://anywhere/b', True),
])
def test_prefix_store_redirects_only_where_allowed(make_store, requests_mock,
                                                   opts, target, allowed):
    store = make_store(http_store_url_prefixes='http://h/pub, '
                       'https://mirror.example.com/pub', **opts)
    requests_mock.get('http://h/pub/a', status_code=302,
                      headers={'Location': target})
    requests_mock.get(target, content=b'ok', headers=cl(2))
    if allowed:
        assert read(store, 'http://h/pub/a') == (b'ok', 2)
    else:
        with pytest.raises(exceptions.BackendError) as err:
            read(store, 'http://h/pub/a')
        assert 'http_redirect_allowed_hosts' in str(err.value)
        assert len(requests_mock.request_history) == 1


@pytest.mark.parametrize('target,final', [
    ('b', 'http://h/dir/b'),
    ('../up/b', 'http://h/up/b'),
    ('/root/b', 'http://h/root/b'),
    ('//other/b', 'http://other/b'),
])
def test_relative_redirects(store, requests_mock, target, final):
    requests_mock.get('http://h/dir/a', status_code=302,
                      headers={'Location': target})
    requests_mock.get(final, content=b'ok', headers=cl(2))
    assert read(store, 'http://h/dir/a') == (b'ok', 2)
    assert requests_mock.last_request.url == final


def test_redirect_keeps_range(store, requests_mock):
    requests_mock.get('http://h/a', status_code=307,
                      headers={'Location': '/b'})
    requests_mock.get('http://h/b', status_code=206, content=DATA[5:10],
                      headers={'Content-Range': 'bytes 5-9/1024'})
    assert read(store, 'http://h/a', offset=5, length=5) == (DATA[5:10], 5)
    assert requests_mock.last_request.headers['Range'] == 'bytes=5-9'


def chain(requests_mock, hops):
    for i in range(hops):
        requests_mock.get('http://h/%d' % i, status_code=302,
                          headers={'Location': '/%d' % (i + 1)})
    requests_mock.get('http://h/%d' % hops, content=b'end', headers=cl(3))


def test_max_redirects_is_allowed(make_store, requests_mock):
    chain(requests_mock, 3)
    assert read(make_store(http_max_redirects=3), 'http://h/0')[0] == b'end'


def test_too_many_redirects(make_store, requests_mock):
    chain(requests_mock, 4)
    with pytest.raises(exceptions.MaxRedirectsExceeded,
                       match=r'more than 3 redirect.*http_max_redirects'):
        make_store(http_max_redirects=3).get('http://h/0')
    assert len(requests_mock.request_history) == 4


def test_zero_redirects_follows_none(make_store, requests_mock):
    chain(requests_mock, 1)
    with pytest.raises(exceptions.MaxRedirectsExceeded):
        make_store(http_max_redirects=0).get('http://h/0')
    assert len(requests_mock.request_history) == 1


def test_redirect_loop(store, requests_mock):
    requests_mock.get('http://h/a', status_code=302,
                      headers={'Location': '/b'})
    requests_mock.get('http://h/b', status_code=301,
                      headers={'Location': 'http://H:80/a'})
    with pytest.raises(exceptions.MaxRedirectsExceeded, match='loop'):
        store.get('http://h/a')
    assert len(requests_mock.request_history) == 2


def test_https_to_http_downgrade_is_refused(store, requests_mock):
    requests_mock.get('https://h/a', status_code=302,
                      headers={'Location': 'http://h/a'})
    requests_mock.get('http://h/a', content=b'plain', headers=cl(5))
    with pytest.raises(exceptions.BackendError, match='https to http'):
        store.get('https://h/a')
    assert len(requests_mock.request_history) == 1


def test_downgrade_refused_after_an_upgrade(store, requests_mock):
    requests_mock.get('http://h/a', status_code=301,
                      headers={'Location': 'https://h/b'})
    requests_mock.get('https://h/b', status_code=302,
                      headers={'Location': 'http://evil/c'})
    with pytest.raises(exceptions.BackendError, match='https to http'):
        store.get('http://h/a')


def test_redirect_to_other_scheme_is_refused(store, requests_mock):
    requests_mock.get('http://h/a', status_code=302,
                      headers={'Location': 'file:///etc/passwd'})
    with pytest.raises(exceptions.BackendError, match='non-http'):
        store.get('http://h/a')


def test_redirect_without_location(store, requests_mock):
    requests_mock.get('http://h/a', status_code=302)
    with pytest.raises(exceptions.BackendError, match='without a Location'):
        store.get('http://h/a')


def test_get_size_follows_redirects(store, requests_mock):
    requests_mock.head('http://h/a', status_code=308,
                       headers={'Location': '/b'})
    requests_mock.head('http://h/b', headers=cl(99))
    assert store.get_size('http://h/a') == 99


# -- credentials ----------------------------------------------------------------

def auth_header(req):
    return req.headers.get('Authorization')


def test_basic_auth_from_url(store, requests_mock):
    requests_mock.get('http://h/img', content=b'x', headers=cl(1))
    read(store, 'http://user:%s@h/img' % SECRET)
    req = requests_mock.last_request
    assert req.url == 'http://h/img'
    assert auth_header(req) == requests.auth._basic_auth_str('user', SECRET)


def test_credentials_are_not_forwarded_to_another_host(store, requests_mock):
    requests_mock.get('http://h/a', status_code=302,
                      headers={'Location': 'http://cdn/b'})
    requests_mock.get('http://cdn/b', content=b'x', headers=cl(1))
    read(store, 'http://user:%s@h/a' % SECRET)
    first, second = requests_mock.request_history
    assert auth_header(first) is not None
    assert auth_header(second) is None


def test_credentials_kept_on_upgrade_to_https_same_host(store,
                                                        requests_mock):
    requests_mock.get('http://h/a', status_code=301,
                      headers={'Location': 'https://h/a'})
    requests_mock.get('https://h/a', content=b'x', headers=cl(1))
    read(store, 'http://user:%s@h/a' % SECRET)
    assert auth_header(requests_mock.last_request) is not None


def test_credentials_not_sent_to_other_port(store, requests_mock):
    requests_mock.get('http://h/a', status_code=302,
                      headers={'Location': 'http://h:8080/a'})
    requests_mock.get('http://h:8080/a', content=b'x', headers=cl(1))
    read(store, 'http://user:%s@h/a' % SECRET)
    assert auth_header(requests_mock.last_request) is None


def test_credentials_in_location_header_are_ignored(store, requests_mock):
    requests_mock.get('http://h/a', status_code=302,
                      headers={'Location': 'http://bob:pw@cdn/b'})
    requests_mock.get('http://cdn/b', content=b'x', headers=cl(1))
    read(store, 'http://h/a')
    req = requests_mock.last_request
    assert req.url == 'http://cdn/b'
    assert auth_header(req) is None


def test_no_credentials_or_query_in_errors(store, requests_mock):
    url = 'http://user:%s@h/img?X-Signature=%s' % (SECRET, SECRET)
    requests_mock.get('http://h/img?X-Signature=%s' % SECRET,
                      status_code=302,
                      headers={'Location': 'http://h/x?token=%s' % SECRET})
    requests_mock.get('http://h/x?token=%s' % SECRET, status_code=500,
                      text='boom')
    with pytest.raises(exceptions.BackendError) as err:
        store.get(url)
    assert SECRET not in str(err.value)
    assert 'user' not in str(err.value)
    assert 'http://h/img?...' in str(err.value)
    assert err.value.code == 500


# -- errors -------------------------------------------------------------------

@pytest.mark.parametrize('code', [404, 410])
def test_not_found(store, requests_mock, code):
    requests_mock.get('http://h/img', status_code=code, text='nope')
    with pytest.raises(exceptions.NotFound, match='http://h/img not found'):
        store.get('http://h/img')


@pytest.mark.parametrize('code,exc', [
    (500, exceptions.BackendError),
    (503, exceptions.BackendError),
    (400, exceptions.BackendError),
    (403, exceptions.Forbidden),
    (401, exceptions.Forbidden),
])
def test_error_status_without_body(store, requests_mock, code, exc):
    body = 'SECRET-INTERNAL-STACKTRACE'
    requests_mock.get('http://h/img', status_code=code, text=body)
    with pytest.raises(exc) as err:
        store.get('http://h/img')
    assert body not in str(err.value)
    assert str(code) in str(err.value)
    assert 'http://h/img' in str(err.value)


@pytest.mark.parametrize('error,words', [
    (requests.exceptions.ConnectTimeout, 'no answer within 30s'),
    (requests.exceptions.ReadTimeout, 'no answer within 30s'),
    (requests.exceptions.ConnectionError, 'cannot connect'),
    (requests.exceptions.SSLError, 'TLS error'),
])
def test_transport_errors_are_unreachable(store, requests_mock, error, words):
    requests_mock.get('https://h/img', exc=error('https://user:%s@h/img'
                                                 % SECRET))
    with pytest.raises(exceptions.RemoteUnreachable, match=words) as err:
        store.get('https://user:%s@h/img' % SECRET)
    assert isinstance(err.value, exceptions.BackendError)
    assert SECRET not in str(err.value)
    assert err.value.__suppress_context__    # no chained requests error
    assert 'https://h/img' in str(err.value)


def test_timeout_option_is_used(make_store, requests_mock):
    requests_mock.head('http://h/img', headers=cl(1))
    make_store(http_timeout=2.5).get_size('http://h/img')
    assert requests_mock.last_request.timeout == (2.5, 2.5)


def test_add_and_delete_are_read_only(store, requests_mock):
    with pytest.raises(exceptions.ReadOnlyStore,
                       match="store 'web' \\(http\\) is read-only: cannot "
                             "add image 'img1'"):
        store.add('img1', b'data')
    with pytest.raises(exceptions.ReadOnlyStore,
                       match="cannot delete http://\\*\\*\\*@h/img") as err:
        store.delete('http://user:%s@h/img' % SECRET)
    assert SECRET not in str(err.value)
    assert not requests_mock.request_history


def test_non_http_url_is_refused(store):
    with pytest.raises(exceptions.BadStoreUri, match='not an http'):
        store.get('file:///etc/passwd')


# -- configuration ----------------------------------------------------------------

def test_catch_all_by_default(store):
    assert store.catch_all_families == ('http', 'https')
    assert store.url_prefixes == ['http://', 'https://']
    assert store.schemes == ('http', 'https')
    assert store.location_class is http_mod.HttpLocation
    assert store.verify is True
    assert store.proxies == {}
    assert isinstance(store.session, requests.Session)


def test_prefixes(make_store):
    s = make_store(http_store_url_prefixes='https://img.example.com/pub, '
                                           'http://mirror:8080/')
    assert s.catch_all_families == ()
    assert s.url_prefixes == ['https://img.example.com/pub',
                              'http://mirror:8080/']


def test_tls_and_proxy_options(make_store, tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    s = make_store(https_ca_certificates_file=str(ca),
                   http_proxy_information='http:http://p:3128, '
                                          'https:http://p:3128')
    assert s.verify == str(ca)
    assert s.proxies == {'http': 'http://p:3128', 'https': 'http://p:3128'}
    assert make_store(https_insecure='true').verify is False


def test_options_reach_the_request(make_store, tmp_path, requests_mock):
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    s = make_store(https_ca_certificates_file=str(ca),
                   http_proxy_information='https:http://p:3128')
    requests_mock.head('https://h/img', headers=cl(1))
    s.get_size('https://h/img')
    assert requests_mock.last_request.verify == str(ca)
    assert requests_mock.last_request.proxies['https'] == 'http://p:3128'


@pytest.mark.parametrize('opts,option,words', [
    ({'http_store_url_prefixes': 'ftp://h/pub'}, 'http_store_url_prefixes',
     "'ftp://h/pub' is not an http"),
    ({'http_store_url_prefixes': 'h/pub'}, 'http_store_url_prefixes',
     "'h/pub' is not an http"),
    ({'http_store_url_prefixes': 'https://h/pub?x=1'},
     'http_store_url_prefixes', 'query'),
    ({'http_store_url_prefixes': 'https://h/pub#f'},
     'http_store_url_prefixes', 'fragment'),
    ({'http_store_url_prefixes': 'https://u:%s@h/pub' % SECRET},
     'http_store_url_prefixes', 'credentials'),
    ({'http_store_url_prefixes': 'https:///pub'}, 'http_store_url_prefixes',
     'no host'),
    ({'http_store_url_prefixes': 'https://h:99999/pub'},
     'http_store_url_prefixes', 'bad port'),
    ({'http_store_url_prefixes': 'https://h/a/../../x'},
     'http_store_url_prefixes', 'climbs'),
    ({'http_store_url_prefixes': 'https://H:443/pub/, https://h/pub'},
     'http_store_url_prefixes', 'are the same'),
    ({'http_timeout': '0'}, 'http_timeout', 'got 0.0'),
    ({'http_timeout': '-3'}, 'http_timeout', '> 0'),
    ({'http_timeout': 'nan'}, 'http_timeout', 'finite'),
    ({'http_timeout': 'inf'}, 'http_timeout', 'finite'),
    ({'http_timeout': 'soon'}, 'http_timeout', 'invalid value'),
    ({'http_max_redirects': '-1'}, 'http_max_redirects', 'invalid value'),
    ({'https_insecure': 'maybe'}, 'https_insecure', 'invalid value'),
    ({'https_ca_certificates_file': '/nonexistent/ca.pem'},
     'https_ca_certificates_file', '/nonexistent/ca.pem'),
    ({'http_proxy_information': 'ftp:http://p:3128'},
     'http_proxy_information', "unknown scheme 'ftp'"),
    ({'http_proxy_information': 'https:p3128'}, 'http_proxy_information',
     'not a URL'),
])
def test_bad_options(make_store, opts, option, words):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_store(**opts)
    assert err.value.section == 'web'
    assert err.value.option == option
    assert words in str(err.value)
    assert SECRET not in str(err.value)


def test_bad_proxy_value_hides_credentials(make_store):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_store(http_proxy_information='https:u:%s@p' % SECRET)
    assert SECRET not in str(err.value)


# -- ownership and resolution ----------------------------------------------------

@pytest.fixture
def two_stores(tmp_path):
    return make_registry(tmp_path, conf_text({
        'pub': {'http_store_url_prefixes':
                'https://img.example.com/pub, http://mirror:8080/images'},
        'web': {},
    }))


@pytest.mark.parametrize('url,owner', [
    ('https://img.example.com/pub/a.qcow2', 'pub'),
    ('https://IMG.example.com:443/pub//a', 'pub'),
    ('https://u:pw@img.example.com/pub/a', 'pub'),
    ('https://img.example.com/pub', 'pub'),
    ('https://img.example.com/pub2/a', 'web'),
    ('https://img.example.com/other', 'web'),
    ('http://img.example.com/pub/a', 'web'),         # http != https
    ('http://mirror:8080/images/x', 'pub'),
    ('https://mirror:8080/images/x', 'web'),
    ('http://mirror/images/x', 'web'),                # other port
    ('http://anything.example.org/x', 'web'),
    ('https://img.example.com/pub/../other', 'web'),
    ('file:///pub/a', None),
])
def test_resolution_prefix_wins_catch_all_takes_the_rest(two_stores, url,
                                                         owner):
    assert two_stores.resolve(url) == owner


def test_registry_routes_reads(two_stores, requests_mock):
    requests_mock.get('https://img.example.com/pub/a', content=b'pub',
                      headers=cl(3))
    requests_mock.get('https://img.example.com/pub2/a', content=b'web',
                      headers=cl(3))
    it, size = two_stores.get('https://img.example.com/pub/a')
    assert (b''.join(it), size) == (b'pub', 3)
    it, size = two_stores.get('https://img.example.com/pub2/a')
    assert (b''.join(it), size) == (b'web', 3)


def test_prefix_store_reads_only_its_prefixes(two_stores, requests_mock):
    with pytest.raises(exceptions.BadStoreUri,
                       match="not under the URL prefixes of store 'pub'"):
        two_stores.get('https://img.example.com/pub2/a', store='pub')
    with pytest.raises(exceptions.BadStoreUri):
        two_stores['pub'].get_size('http://img.example.com/pub/a')
    assert not requests_mock.request_history


def test_two_catch_alls_are_refused(tmp_path):
    with pytest.raises(exceptions.BadStoreConfiguration,
                       match='both catch-alls'):
        make_registry(tmp_path, conf_text({'a': {}, 'b': {}}))


def test_same_prefix_in_two_stores_is_refused(tmp_path):
    with pytest.raises(exceptions.BadStoreConfiguration,
                       match="'a' and 'b'.*img.example.com/pub"):
        make_registry(tmp_path, conf_text({
            'a': {'http_store_url_prefixes': 'https://img.example.com/pub'},
            'b': {'http_store_url_prefixes': 'https://IMG.example.com/pub/'},
        }))


def test_location_map_entry(two_stores):
    entry = two_stores.location_map['pub']
    assert entry['store_entry'] == 'http'
    assert entry['location_class'] is http_mod.HttpLocation


# -- reachability ----------------------------------------------------------------

def test_catch_all_is_always_reachable(store, requests_mock):
    assert store.check_reachable() == (True, '')
    assert not requests_mock.request_history


def test_any_http_answer_is_reachable(make_store, requests_mock):
    s = make_store(http_store_url_prefixes='https://a/pub, https://b/pub')
    requests_mock.head('https://a/pub', status_code=500)
    requests_mock.head('https://b/pub', status_code=302,
                       headers={'Location': 'http://elsewhere/'})
    assert s.check_reachable() == (True, '')
    assert [r.timeout for r in requests_mock.request_history] == [
        (5.0, 5.0), (5.0, 5.0)]


def test_unreachable_prefix(make_store, requests_mock):
    s = make_store(http_store_url_prefixes='https://a/pub, https://b/pub')
    requests_mock.head('https://a/pub', headers=cl(0))
    requests_mock.head('https://b/pub',
                       exc=requests.exceptions.ConnectTimeout)
    ok, reason = s.check_reachable()
    assert not ok
    assert 'https://b/pub' in reason and 'https://a/pub' not in reason


def test_check_reachable_never_raises(make_store, requests_mock):
    s = make_store(http_store_url_prefixes='https://a/pub')
    requests_mock.head('https://a/pub', exc=RuntimeError('kaput'))
    assert s.check_reachable() == (False, 'https://a/pub: RuntimeError: '
                                          'kaput')


# -- helpers ----------------------------------------------------------------

@pytest.mark.parametrize('value,parsed', [
    ('bytes 0-9/100', (0, 9, 100)),
    ('bytes 5-5/*', (5, 5, None)),
    ('bytes */100', (None, None, 100)),
    ('BYTES 1-2/3', (1, 2, 3)),
    ('bytes 9-0/100', None),
    ('bytes 0-100/100', None),
    ('items 0-1/2', None),
    ('', None),
    (None, None),
])
def test_parse_content_range(value, parsed):
    assert http_mod.parse_content_range(value) == parsed


@pytest.mark.parametrize('url,shown', [
    ('https://u:p@h/a?sig=1#f', 'https://***@h/a?...'),
    ('https://h/a', 'https://h/a'),
])
def test_urls_are_shown_redacted(url, shown):
    assert http_mod.location.redact(url) == shown


# -- odd URLs are store_kit errors (issue 8: nothing raw leaves) -------------

@pytest.mark.parametrize('password,sent', [
    ('%E2%82%AC', '\u20ac'.encode('utf-8')),       # beyond latin-1: UTF-8
    ('\u20ac', '\u20ac'.encode('utf-8')),
    ('%E9', b'\xe9'),                               # an escape is an octet
    ('%C3%A9', '\u00e9'.encode('utf-8')),
])
def test_basic_auth_escapes_are_octets_and_text_is_utf8(
        store, requests_mock, password, sent):
    import base64
    requests_mock.get('http://h/img', content=b'x', headers=cl(1))
    assert read(store, 'http://user:%s@h/img' % password) == (b'x', 1)
    header = auth_header(requests_mock.last_request)
    assert base64.b64decode(header.split()[1]) == b'user:' + sent


@pytest.mark.parametrize('url', ['http://h/x\r\nX-Injected: 1', 'http://h/\x00',
                                 'http://]/x', 'http://[::1/x', 'http://[::1]x/y',
                                 'http://h/na\udcffme'])
def test_malformed_urls_are_bad_store_uri(store, requests_mock, url):
    for call in (store.get, store.get_size):
        with pytest.raises(exceptions.BadStoreUri) as err:
            call(url)
        str(err.value).encode('utf-8')
    assert requests_mock.call_count == 0


def test_bad_port_message_never_shows_what_may_be_a_secret(store):
    with pytest.raises(exceptions.BadStoreUri) as err:
        store.get('https://user:se/cret@h/x')
    assert 'se' not in str(err.value).replace('user', '').replace('store', '')
