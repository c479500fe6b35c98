"""The http store against a real HTTP server on 127.0.0.1."""

import http.server
import re
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from store_kit import exceptions
from tests.helpers import skip_or_fail
from tests.helpers import make_registry

DATA = bytes(range(256)) * 1000          # 256000 bytes
_RANGE_RE = re.compile(r'^bytes=(\d+)-(\d*)$')


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head):
        path = self.path
        if path == '/img':
            return self._bytes(DATA, head)
        if path == '/nolength':
            return self._bytes(DATA, head, length_on_head=False)
        if path == '/redirect':
            return self._redirect(302, 'img')
        if path.startswith('/hop/'):
            n = int(path.rsplit('/', 1)[1])
            return self._redirect(307, '/img' if n == 0 else
                                  '/hop/%d' % (n - 1))
        if path == '/loop':
            return self._redirect(301, '/loop')
        if path == '/truncated':
            self.send_response(200)
            self.send_header('Content-Length', str(len(DATA)))
            self.send_header('Connection', 'close')
            self.end_headers()
            if not head:
                self.wfile.write(DATA[:1000])
                self.wfile.flush()
            self.close_connection = True
            return
        if path == '/fail':
            body = b'internal secret stack trace'
            self.send_response(500)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def _redirect(self, code, target):
        self.send_response(code)
        self.send_header('Location', target)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def _bytes(self, data, head, length_on_head=True):
        m = _RANGE_RE.match(self.headers.get('Range', ''))
        if m:
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data):
                self.send_response(416)
                self.send_header('Content-Range', 'bytes */%d' % len(data))
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            body = data[start:end + 1]
            self.send_response(206)
            self.send_header('Content-Range', 'bytes %d-%d/%d'
                             % (start, end, len(data)))
        else:
            body = data
            self.send_response(200)
        if head and not length_on_head:
            self.send_header('Connection', 'close')
            self.close_connection = True
        else:
            self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


@pytest.fixture(scope='module')
def server():
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % srv.server_address[1]
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def closed_port_url():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return 'http://127.0.0.1:%d/pub' % port


@pytest.fixture
def registry(tmp_path, server):
    return make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = local:http, web:http
        [store_kit]
        default_backend = local
        [local]
        http_store_url_prefixes = %s/
        http_timeout = 5
        http_max_redirects = 2
        [web]
        http_timeout = 5
        """ % server)


def read(registry, url, **kw):
    it, size = registry.get(url, **kw)
    with it:
        return b''.join(it), size


def test_resolution(registry, server):
    assert registry.resolve(server + '/img') == 'local'
    assert registry.resolve('http://localhost:1/img') == 'web'
    assert registry.resolve(server.replace('http:', 'https:') +
                            '/img') == 'web'


def test_get_whole(registry, server):
    assert read(registry, server + '/img') == (DATA, len(DATA))


def test_signed_query_never_reaches_debug_logs(registry, server, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    # the test server serves no query URLs: the request line is what counts
    with pytest.raises(exceptions.NotFound) as err:
        read(registry, server + '/img?sig=TOPSECRETSIG')
    assert 'TOPSECRETSIG' not in str(err.value)
    assert any('/img?...' in r.getMessage() for r in caplog.records)
    assert not any('TOPSECRETSIG' in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize('offset,length', [(0, 10), (1000, 5000),
                                           (255990, None), (255990, 100),
                                           (len(DATA), None)])
def test_get_range(registry, server, offset, length):
    end = None if length is None else offset + length
    expected = DATA[offset:end]
    assert read(registry, server + '/img', offset=offset,
                length=length) == (expected, len(expected))


def test_offset_past_end(registry, server):
    with pytest.raises(exceptions.Invalid, match='offset 300000'):
        registry.get(server + '/img', offset=300000)


def test_get_size(registry, server):
    assert registry.get_size(server + '/img') == len(DATA)


def test_get_size_without_content_length(registry, server):
    assert registry.get_size(server + '/nolength') == len(DATA)


def test_redirect(registry, server):
    assert read(registry, server + '/redirect') == (DATA, len(DATA))
    assert registry.get_size(server + '/redirect') == len(DATA)


def test_redirect_limit(registry, server):
    assert read(registry, server + '/hop/1', offset=7, length=3) == (
        DATA[7:10], 3)
    with pytest.raises(exceptions.MaxRedirectsExceeded, match='more than 2'):
        registry.get(server + '/hop/2')


def test_redirect_loop(registry, server):
    with pytest.raises(exceptions.MaxRedirectsExceeded, match='loop'):
        registry.get(server + '/loop')


def test_truncated_body_is_an_error(registry, server):
    it, size = registry.get(server + '/truncated')
    assert size == len(DATA)
    with pytest.raises(exceptions.SizeMismatch) as err:
        with it:
            b''.join(it)
    assert err.value.expected == len(DATA)
    assert '1000' in str(err.value)


def test_not_found_and_server_error(registry, server):
    with pytest.raises(exceptions.NotFound):
        registry.get(server + '/missing')
    with pytest.raises(exceptions.BackendError, match='500') as err:
        registry.get(server + '/fail')
    assert 'secret' not in str(err.value)


def test_check_reachable(registry):
    assert registry.check_reachable() == {'local': (True, ''),
                                          'web': (True, '')}


def test_closed_port(tmp_path):
    url = closed_port_url()
    registry = make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = gone:http
        [store_kit]
        default_backend = gone
        [gone]
        http_store_url_prefixes = %s
        http_timeout = 2
        """ % url)                          # loads although the server is down
    ok, reason = registry['gone'].check_reachable()
    assert not ok
    assert url in reason and 'cannot connect' in reason
    with pytest.raises(exceptions.RemoteUnreachable, match='cannot connect'):
        registry.get(url + '/img')


# -- TLS ----------------------------------------------------------------------

@pytest.fixture(scope='module')
def tls_server(tmp_path_factory):
    """An https server with a self-signed certificate for 127.0.0.1."""
    if not shutil.which('openssl'):
        skip_or_fail('openssl is needed to make a test certificate')
    d = tmp_path_factory.mktemp('tls')
    cert, key = d / 'cert.pem', d / 'key.pem'
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
         '-days', '1', '-subj', '/CN=127.0.0.1',
         '-addext', 'subjectAltName=IP:127.0.0.1',
         '-addext', 'basicConstraints=critical,CA:TRUE',
         '-addext', 'keyUsage=critical,digitalSignature,keyCertSign',
         '-keyout', str(key), '-out', str(cert)],
        check=True, capture_output=True)
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield 'https://127.0.0.1:%d' % srv.server_address[1], str(cert)
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def tls_store(tmp_path, **opts):
    text = ('[DEFAULT]\nenabled_backends = tls:http\n'
            '[store_kit]\ndefault_backend = tls\n[tls]\nhttp_timeout = 5\n')
    text += ''.join('%s = %s\n' % kv for kv in opts.items())
    return make_registry(tmp_path, text)['tls']


def test_tls_is_verified_by_default(tmp_path, tls_server, monkeypatch):
    url, _ = tls_server
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    monkeypatch.delenv('CURL_CA_BUNDLE', raising=False)
    with pytest.raises(exceptions.RemoteUnreachable, match='TLS error'):
        tls_store(tmp_path).get_size(url + '/img')


def test_tls_with_ca_file(tmp_path, tls_server):
    url, cert = tls_server
    s = tls_store(tmp_path, https_ca_certificates_file=cert)
    it, size = s.get(url + '/img', offset=5, length=10)
    with it:
        assert (b''.join(it), size) == (DATA[5:15], 10)


@pytest.mark.filterwarnings('ignore::urllib3.exceptions.InsecureRequestWarning')
def test_tls_insecure(tmp_path, tls_server):
    url, _ = tls_server
    assert tls_store(tmp_path, https_insecure='true').get_size(
        url + '/img') == len(DATA)
