"""Run the real glance API (glance 33's ``glance.wsgi.api:application``)
on loopback, without keystone, for the end-to-end tests and the benchmarks.

:func:`write_config` writes a glance-api.conf and a paste file into a
directory; :class:`GlanceServer` creates glance's schema with
``glance-manage db_sync`` and serves the app with werkzeug in a child
process (glance's global config and its imports stay out of the test
process).  Facts behind this: ``/work/shared/glance-recipe.md``.
"""

import os
import socket
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FLAVOR = 'storekittest'

PASTE = """\
[pipeline:glance-api-%s]
pipeline = http_proxy_to_wsgi versionnegotiation context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:context]
paste.filter_factory = tests.glance.context:HeaderContext.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
""" % FLAVOR


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_config(conf_dir, backends, default, connection, extra='',
                 debug=False):
    """Write ``glance-api.conf`` and its paste file into *conf_dir*.

    *backends* is ``[(name, type, {option: value})]`` in config order;
    *connection* glance's ``[database] connection``; *extra* is appended
    verbatim.  Returns the path of glance-api.conf.
    """
    os.makedirs(conf_dir, exist_ok=True)
    data = os.path.join(conf_dir, 'data')
    paste = os.path.join(conf_dir, 'glance-api-paste.ini')
    with open(paste, 'w') as f:
        f.write(PASTE)
    lines = [
        '[DEFAULT]',
        'enabled_backends = %s' % ', '.join('%s:%s' % (n, t)
                                            for n, t, _ in backends),
        'log_file = %s' % os.path.join(conf_dir, 'glance-api.log'),
        'debug = %s' % ('true' if debug else 'false'),
        'enabled_import_methods = [glance-direct,copy-image]',
        '',
        '[database]',
        'connection = %s' % connection,
        '',
        '[glance_store]',
        'default_backend = %s' % default,
        '',
    ]
    for name, _type, options in backends:
        lines.append('[%s]' % name)
        lines += ['%s = %s' % kv for kv in options.items()]
        lines.append('')
    for reserved in ('os_glance_staging_store', 'os_glance_tasks_store'):
        lines += ['[%s]' % reserved, 'filesystem_store_datadir = %s/' %
                  os.path.join(data, reserved), '']
    lines += [
        '[paste_deploy]',
        'config_file = %s' % paste,
        'flavor = %s' % FLAVOR,
        '',
        '[oslo_concurrency]',
        'lock_path = %s' % os.path.join(conf_dir, 'locks'),
        '',
        '[oslo_policy]',
        'enforce_new_defaults = False',
        '',
        '[image_format]',
        'require_image_format_match = False',
        '',
    ]
    path = os.path.join(conf_dir, 'glance-api.conf')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + extra)
    return path


def bin_path(name):
    """A console script of the interpreter running us."""
    return os.path.join(os.path.dirname(sys.executable), name)


def db_sync(conf_file):
    """Create glance's schema (``glance-manage db_sync``)."""
    subprocess.run([bin_path('glance-manage'), '--config-file', conf_file,
                    'db_sync'], check=True, capture_output=True, timeout=300)


class GlanceServer:
    """The glance API of *conf_dir* served on 127.0.0.1 in a child process.

    Use as a context manager; ``url`` is the root endpoint.
    """

    def __init__(self, conf_dir, env=None):
        self.conf_dir = conf_dir
        self.conf_file = os.path.join(conf_dir, 'glance-api.conf')
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.env = env
        self.proc = None

    def start(self, sync=True, timeout=120):
        if sync:
            db_sync(self.conf_file)
        env = dict(os.environ, **(self.env or {}))
        env['OS_GLANCE_CONFIG_DIR'] = self.conf_dir
        env['PYTHONPATH'] = os.pathsep.join(
            [ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                      if p])
        env.setdefault('NO_PROXY', '127.0.0.1')
        self._out = open(os.path.join(self.conf_dir, 'server.out'), 'wb')
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.glance.serve', str(self.port)],
            cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('glance exited with %s:\n%s'
                                   % (self.proc.returncode, self.output()))
            try:
                requests.get(self.url + '/v2/info/stores', timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError('glance did not answer within %ds:\n%s'
                           % (timeout, self.output()))

    def output(self):
        """What the server printed (werkzeug lines, start-up errors)."""
        try:
            with open(os.path.join(self.conf_dir, 'server.out'), 'rb') as f:
                return f.read().decode('utf-8', 'replace')[-20000:]
        except OSError:
            return ''

    def log(self):
        """glance's own log file."""
        try:
            with open(os.path.join(self.conf_dir, 'glance-api.log'),
                      encoding='utf-8', errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, '_out', None) is not None:
            self._out.close()
            self._out = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
