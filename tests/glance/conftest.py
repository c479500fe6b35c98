"""The real glance 33 API on loopback with store_kit's drivers: one server
per database engine for the whole session (SQLite always; PostgreSQL when
reachable, and required with STORE_KIT_REQUIRE_SERVERS=1), S3 on moto's
threaded server, an http store served from a directory on loopback."""

import dataclasses
import functools
import http.server
import os
import socket
import threading

import boto3
import pytest
import sqlalchemy as sa

from tests.catalog import databases
from tests.glance import server as glance_server

ACCESS = 'AKIAGLANCEBRIDGE0001'
SECRET = 'glance/Bridge+Secret:key'
OLD_ACCESS = 'AKIAOLDROTATEDKEY001'
OLD_SECRET = 'old/Rotated+Secret:gone'
BUCKETS = ('glance', 'glance-b')
ENGINES = ('sqlite', 'postgresql')


def pytest_collection_modifyitems(items):
    """The deprecation notices of glance's libraries (openstacksdk,
    glanceclient, webob, eventlet) are not ours to act on."""
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.filterwarnings(
                'ignore::DeprecationWarning'))
            item.add_marker(pytest.mark.filterwarnings(
                'ignore::PendingDeprecationWarning'))
            # glance_store's file driver imports futurist, which imports eventlet
            item.add_marker(pytest.mark.filterwarnings('ignore::Warning:futurist._utils'))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='session')
def moto_port():
    """moto's S3 on 127.0.0.1, with the two buckets created."""
    from moto.server import ThreadedMotoServer
    port = free_port()
    srv = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    srv.start()
    client = s3_client(port)
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
    try:
        yield port
    finally:
        srv.stop()


def s3_client(port):
    return boto3.client('s3', endpoint_url='http://127.0.0.1:%d' % port,
                        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                        region_name='us-east-1')


@pytest.fixture(scope='session')
def web_root(tmp_path_factory):
    """A directory served over http on 127.0.0.1: ``(path, base URL)``."""
    root = str(tmp_path_factory.mktemp('web'))
    handler = functools.partial(_QuietHandler, directory=root)
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, 'http://127.0.0.1:%d' % httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def store_sections(data, moto_port, web_url):
    """The stores of the glance under test, in config order: two file
    stores whose datadirs share a prefix (pool1, pool10), two buckets whose
    names do (glance, glance-b), and a read-only http store."""
    s3 = {'s3_store_host': 'http://127.0.0.1:%d' % moto_port,
          's3_store_access_key': ACCESS, 's3_store_secret_key': SECRET,
          's3_store_large_object_size': '5',
          's3_store_large_object_chunk_size': '5',
          's3_store_create_bucket_on_put': 'true'}
    return [
        ('pool1', 'store_kit_file',
         {'filesystem_store_datadir': os.path.join(data, 'pool1')}),
        ('pool10', 'store_kit_file',
         {'filesystem_store_datadir': os.path.join(data, 'pool10'),
          'store_description': 'the tenth pool'}),
        ('s3a', 'store_kit_s3', dict(s3, s3_store_bucket='glance')),
        ('s3b', 'store_kit_s3', dict(s3, s3_store_bucket='glance-b')),
        ('web', 'store_kit_http',
         {'http_store_url_prefixes': web_url + '/pub'}),
    ]


@dataclasses.dataclass
class Glance:
    """A running glance and what the tests need to reach behind it."""

    engine: str
    url: str
    conf_dir: str
    conf_file: str
    data: str
    db_url: str
    moto_port: int
    web_root: str
    web_url: str
    server: glance_server.GlanceServer

    def client(self, project=None, roles=None):
        """python-glanceclient; admin unless *project* is given."""
        import glanceclient
        headers = {}
        if project is not None:
            headers = {'X-Project-Id': project,
                       'X-Roles': roles or 'member,reader'}
        return glanceclient.Client('2', endpoint=self.url, token='x',
                                   identity_headers=headers)

    def sdk(self):
        """openstacksdk, keystone-free, on the root endpoint."""
        import openstack
        return openstack.connect(
            auth_type='none', auth={'endpoint': self.url},
            image_endpoint_override=self.url, region_name='',
            load_yaml_config=False, load_envvars=False)

    def s3(self):
        return s3_client(self.moto_port)

    def db(self):
        """An engine on glance's own database."""
        return sa.create_engine(self.db_url, poolclass=sa.pool.NullPool)

    def datadir(self, store):
        return os.path.join(self.data, store)


@pytest.fixture(scope='session', params=ENGINES)
def glance(request, tmp_path_factory, moto_port, web_root):
    """The real glance API with store_kit's drivers, on each engine."""
    engine = request.param
    conf_dir = str(tmp_path_factory.mktemp('glance-%s' % engine))
    os.makedirs(os.path.join(conf_dir, 'db'))
    db_url = databases.create_database(engine, os.path.join(conf_dir, 'db'))
    if engine == 'sqlite':
        os.makedirs(os.path.dirname(db_url[len('sqlite:///'):]), exist_ok=True)
    data = os.path.join(conf_dir, 'data')
    root, web_url = web_root
    conf_file = glance_server.write_config(
        conf_dir, store_sections(data, moto_port, web_url), 'pool1', db_url)
    srv = glance_server.GlanceServer(conf_dir)
    try:
        srv.start()
        yield Glance(engine, srv.url, conf_dir, conf_file, data, db_url,
                     moto_port, root, web_url, srv)
    finally:
        srv.stop()
        databases.drop_database(engine, db_url)
