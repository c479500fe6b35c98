"""doc/resolution.md's example table holds, with its example config."""

import os
import re

from tests.helpers import make_registry

DOC = os.path.join(os.path.dirname(__file__), '..', '..', 'doc',
                   'resolution.md')


def doc_examples():
    text = open(DOC).read()
    config = re.search(r'```ini\n(.*?)```', text, re.S).group(1)
    rows = re.findall(r'^\| `([^`]+)` \| (\S+) \|', text, re.M)
    return config, rows


def test_examples(tmp_path, monkeypatch):
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'x')
    config, rows = doc_examples()
    assert len(rows) >= 10
    config = config.replace('/data/', '%s/data/' % tmp_path)
    config = config.replace('[DEFAULT]', '[store_kit]\ndefault_backend = '
                            'images\n[DEFAULT]')
    for section in ('pool1', 'pool10'):
        config = config.replace('[%s]\n' % section,
                                '[%s]\ns3_store_access_key = AK\n'
                                's3_store_secret_key = SK\n' % section)
    reg = make_registry(tmp_path, config)
    for url, store in rows:
        url = url.replace('/data/', '%s/data/' % tmp_path.as_posix()
                          ) if url.startswith('file') else url
        expected = None if store == 'none' else store
        assert reg.resolve(url) == expected, url
