"""Shared test helpers: build a config from text, a registry from a config."""

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
