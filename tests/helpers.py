"""Shared test helpers: a config or registry from text, the server skip/fail
switch, and real filesystem faults (read-only and full filesystems)."""

import contextlib
import os

import pytest

from oslo_config import cfg

import store_kit


def make_conf(tmp_path, text, name='store-kit.conf'):
    """Write *text* as a config file and return parsed ConfigOpts.

    Leading white space is stripped from every line, so snippets can be
    indented freely (no continuation lines).
    """
    path = os.path.join(str(tmp_path), name)
    with open(path, 'w') as f:
        f.write('\n'.join(line.strip() for line in text.splitlines()))
    conf = cfg.ConfigOpts()
    store_kit.register_opts(conf)
    conf(['--config-file', path], project='store-kit', default_config_files=[],
         default_config_dirs=[])
    return conf


def make_registry(tmp_path, text):
    """A StoreRegistry from config *text*."""
    return store_kit.create_stores(make_conf(tmp_path, text))


def require_servers():
    """True when tests needing a real server must fail rather than skip."""
    return os.environ.get('STORE_KIT_REQUIRE_SERVERS') == '1'


def skip_or_fail(reason):
    """Skip with *reason*, or fail when STORE_KIT_REQUIRE_SERVERS=1."""
    if require_servers():
        pytest.fail('%s (STORE_KIT_REQUIRE_SERVERS=1)' % reason)
    pytest.skip(reason)


# -- real filesystem faults (root only: mount(8)) ---------------------------

def _run_mount(cmd):
    """Run a mount(8)/umount(8) command; skip the test if it is refused."""
    import subprocess
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except OSError as exc:
        pytest.skip('cannot run %s here: %s' % (cmd[0], exc))
    if proc.returncode != 0:
        pytest.skip('`%s` refused here: %s' % (' '.join(cmd), proc.stderr.strip()))


def _umount(path):
    import subprocess
    if subprocess.run(['umount', path], capture_output=True).returncode != 0:
        subprocess.run(['umount', '-l', path], capture_output=True)


@contextlib.contextmanager
def read_only_mount(path):
    """Make directory *path* read-only for every process, root included
    (EROFS, which chmod cannot give root): a read-only bind mount of the
    directory on itself, removed on exit."""
    path = str(path)
    _run_mount(['mount', '--bind', path, path])
    try:
        _run_mount(['mount', '-o', 'remount,bind,ro', path])
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def small_filesystem(path, size='1m'):
    """Mount a tmpfs of *size* on directory *path* (created if need be), so
    writes beyond it fail with ENOSPC; unmounted on exit."""
    path = str(path)
    os.makedirs(path, exist_ok=True)
    _run_mount(['mount', '-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', path])
    try:
        yield path
    finally:
        _umount(path)
