"""Fixtures of the operations tests: two file stores and a fresh catalog.

``db`` is a migrated SQLite catalog per test; ``server_url`` gives a fresh
database on PostgreSQL or MariaDB (skipped when the server is unreachable,
failed instead with STORE_KIT_REQUIRE_SERVERS=1), dropped afterwards.
"""

import os

import pytest

from store_kit.catalog import Catalog
from tests import helpers
from tests.catalog import databases

STORES_CONF = """
[DEFAULT]
enabled_backends = fast:file, cold:file
[store_kit]
default_backend = fast
[fast]
filesystem_store_datadir = {root}/fast
filesystem_store_fsync = false
[cold]
filesystem_store_datadir = {root}/cold
filesystem_store_fsync = false
weight = 5
"""

FILE_AND_S3_CONF = """
[DEFAULT]
enabled_backends = fast:file, {name}:s3
[store_kit]
default_backend = fast
[fast]
filesystem_store_datadir = {root}/fast
filesystem_store_fsync = false
[{name}]
s3_store_host = {host}
s3_store_access_key = {access}
s3_store_secret_key = {secret}
s3_store_bucket = {bucket}
s3_store_create_bucket_on_put = true
"""


def file_and_s3_conf(root, host, access, secret, bucket='images', name='cold', **s3_opts):
    """Config text: file store ``fast`` (the default) and s3 store *name*;
    *s3_opts* are further ``s3_store_*`` options without the prefix."""
    return FILE_AND_S3_CONF.format(root=root, host=host, access=access, secret=secret,
                                   bucket=bucket, name=name) + ''.join(
        's3_store_%s = %s\n' % item for item in s3_opts.items())


@pytest.fixture
def registry(tmp_path):
    return helpers.make_registry(tmp_path, STORES_CONF.format(root=tmp_path))


@pytest.fixture
def db(tmp_path, registry):
    catalog = Catalog('sqlite:///%s' % os.path.join(str(tmp_path), 'catalog.db'))
    catalog.create_schema()
    yield catalog
    catalog.dispose()


@pytest.fixture(params=databases.ENGINES)
def any_engine_url(request, tmp_path):
    """A fresh, migrated catalog URL on each engine in turn."""
    url = databases.create_database(request.param, tmp_path)
    catalog = Catalog(url)
    catalog.create_schema()
    catalog.dispose()
    yield url
    databases.drop_database(request.param, url)


def files_under(path):
    """Every regular file below *path* (relative paths, sorted)."""
    found = []
    for root, _dirs, names in os.walk(str(path)):
        found += [os.path.relpath(os.path.join(root, n), str(path)) for n in names]
    return sorted(found)
