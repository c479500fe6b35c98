"""etc/store-kit.conf.sample is what oslo-config-generator writes now."""

import os

from oslo_config import generator

from store_kit import config

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
SAMPLE = os.path.join(ROOT, 'etc', 'store-kit.conf.sample')


def test_sample_is_current(tmp_path):
    out = tmp_path / 'sample.conf'
    generator.main(['--namespace', 'store_kit', '--output-file', str(out),
                    '--wrap-width', '79'])
    with open(SAMPLE) as f:
        committed = f.read()
    assert out.read_text() == committed, (
        'etc/store-kit.conf.sample is stale: run `tox -e genconfig`')


def test_list_opts_covers_every_driver_and_group():
    groups = dict(config.list_opts())
    for group in ('DEFAULT', 'store_kit', 'catalog', 'scrubber',
                  'file_store_example', 's3_store_example',
                  'http_store_example'):
        assert group in groups
    names = {o.name for o in groups['s3_store_example']}
    assert {'s3_store_secret_key', 'weight'} <= names
    secret = [o for o in groups['s3_store_example']
              if o.name == 's3_store_secret_key'][0]
    assert secret.secret
