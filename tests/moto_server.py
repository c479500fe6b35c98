"""moto's threaded S3 server on 127.0.0.1, for end-to-end tests through real
HTTP, with no ambient AWS settings leaking in."""

import contextlib
import socket

import pytest
from moto.server import ThreadedMotoServer


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server():
    """Run a ThreadedMotoServer; yields its port."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ('AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3',
                    'AWS_CA_BUNDLE', 'HTTP_PROXY', 'http_proxy'):
            mp.delenv(var, raising=False)
        mp.setenv('NO_PROXY', '127.0.0.1')
        mp.setenv('AWS_ACCESS_KEY_ID', 'ambient-not-used')
        mp.setenv('AWS_SECRET_ACCESS_KEY', 'ambient-not-used')
        mp.setenv('AWS_CONFIG_FILE', '/nonexistent/aws-config')
        mp.setenv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/aws-creds')
        port = free_port()
        srv = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
        srv.start()
        try:
            yield port
        finally:
            srv.stop()
