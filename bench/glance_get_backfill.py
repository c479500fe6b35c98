"""glance's backfill on GET with its stock drivers beside store_kit's: which
store does the real glance 33 record for a legacy location?

    python bench/glance_get_backfill.py

Two glance servers with the same stores (``pool1``, ``pool10``: file
stores whose datadirs share a prefix; ``s3a``, ``s3b``: buckets ``glance``
and ``glance-b`` on one moto server), one with glance_store's stock types
(``file``, ``s3``), one with store_kit's (``store_kit_file``,
``store_kit_s3``).  In each, images are uploaded into their store through
the API, then their location rows are rewritten by SQL the way an upgraded
deployment has them (no ``store``; older URL spellings), and each image is
read with ``GET /v2/images/{id}`` and downloaded.  Then ``store-kit glance
backfill --fix-wrong`` runs on what GET left.  Prints the store each run recorded per
case (a table for ``doc/glance.md``).
"""

import io
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT           # not bench/: bench/copy.py would shadow the stdlib

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tests.glance import server  # noqa: E402

ACCESS = 'AKIASCENARIO00000001'
SECRET = 'scenario/secret+key'
OLD = 'AKIAOLDKEY000000001:old/rotated+secret'

#: (case, store uploaded into, how the legacy row spells its URL)
CASES = [
    ('file in pool10', 'pool10', 'file://{d}/pool10/{id}'),
    ('file in pool1, filesystem:// scheme', 'pool1', 'filesystem://{d}/pool1/{id}'),
    ('file in pool1, doubled slash', 'pool1', 'file://{d}//pool1/{id}'),
    ('s3 in glance-b, old keys in the URL', 's3b', 's3://%s@127.0.0.1:{port}/glance-b/{id}' % OLD),
    ('s3 in glance, s3+http:// scheme', 's3a', 's3+http://127.0.0.1:{port}/glance/{id}'),
]


def run(kind, work, port):
    file_type, s3_type = {'stock': ('file', 's3'),
                          'store_kit': ('store_kit_file', 'store_kit_s3')}[kind]
    d = os.path.join(work, kind)
    data = os.path.join(d, 'data')
    s3 = {'s3_store_host': 'http://127.0.0.1:%d' % port, 's3_store_access_key': ACCESS,
          's3_store_secret_key': SECRET, 's3_store_create_bucket_on_put': 'true'}
    server.write_config(d, [
        ('pool1', file_type, {'filesystem_store_datadir': data + '/pool1'}),
        ('pool10', file_type, {'filesystem_store_datadir': data + '/pool10'}),
        ('s3a', s3_type, dict(s3, s3_store_bucket='glance')),
        ('s3b', s3_type, dict(s3, s3_store_bucket='glance-b')),
    ], 'pool1', 'sqlite:///%s/glance.sqlite' % d)
    engine = sa.create_engine('sqlite:///%s/glance.sqlite' % d)
    results = []
    with server.GlanceServer(d) as glance:
        ids = []
        for case, store, spelling in CASES:
            body = os.urandom(50000)
            image = requests.post(glance.url + '/v2/images', timeout=30, json={
                'name': case, 'disk_format': 'raw', 'container_format': 'bare'}).json()
            requests.put('%s/v2/images/%s/file' % (glance.url, image['id']),
                         data=io.BytesIO(body), timeout=60,
                         headers={'Content-Type': 'application/octet-stream',
                                  'X-Image-Meta-Store': store}).raise_for_status()
            url = spelling.format(d=data, port=port, id=image['id'])
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE image_locations SET value = :v, meta_data = '{}' "
                                     "WHERE image_id = :i"), {'v': url, 'i': image['id']})
            ids.append((image['id'], body))
        for image_id, body in ids:
            shown = requests.get('%s/v2/images/%s' % (glance.url, image_id), timeout=30).json()
            got = requests.get('%s/v2/images/%s/file' % (glance.url, image_id), timeout=60)
            results.append([shown.get('stores') or '(none)',
                            'ok' if got.status_code == 200 and got.content == body
                            else 'HTTP %d' % got.status_code])
        env = dict(os.environ, PYTHONPATH=ROOT, STORE_KIT_HOME=os.path.join(d, 'sk'))
        out = subprocess.run([sys.executable, '-m', 'store_kit.cli', '--config-file',
                              glance.conf_file, 'glance', 'backfill', '--fix-wrong',
                              '--format', 'json'],
                             env=env, capture_output=True, check=True).stdout
        summary = json.loads(out)
        with engine.connect() as conn:
            for row, (image_id, _) in zip(results, ids):
                meta = conn.execute(sa.text('SELECT meta_data FROM image_locations WHERE '
                                            'image_id = :i'), {'i': image_id}).scalar()
                row.append(json.loads(meta).get('store') or '(none)')
    engine.dispose()
    return results, summary


def run_all(work):
    from moto.server import ThreadedMotoServer
    os.environ.setdefault('NO_PROXY', '127.0.0.1')
    port = server.free_port()
    moto = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    moto.start()
    try:
        stock, stock_sum = run('stock', work, port)
        ours, ours_sum = run('store_kit', work, port)
    finally:
        moto.stop()
    then = 'then `store-kit glance backfill --fix-wrong`'
    print('| legacy location | right store | stock drivers: GET records | download | %s '
          '| store_kit drivers: GET records | download | %s |' % (then, then))
    print('|---|---|---|---|---|---|---|---|')
    for (case, store, _), s, o in zip(CASES, stock, ours):
        print('| %s | %s | %s | %s | %s | %s | %s | %s |' % ((case, store) + tuple(s) + tuple(o)))
    keys = ('scanned', 'already', 'resolved', 'corrected', 'unresolved')
    print('backfill after GET: stock run %s, store_kit run %s' % (
        {k: stock_sum[k] for k in keys}, {k: ours_sum[k] for k in keys}))


def main():
    with tempfile.TemporaryDirectory(prefix='glance-get-backfill-') as work:
        run_all(work)


if __name__ == '__main__':
    main()
