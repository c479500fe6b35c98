"""The store-kit command end to end.

Most runs call ``store_kit.cli.main`` in this process (same argv, same
environment, output captured) to keep the suite fast; the ones that matter
as a real process (the demo, exit statuses, tracebacks) run in subprocesses.
"""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from store_kit.catalog import Catalog
from store_kit.context import RequestContext

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An environment with no config file anywhere and a fresh home (set in
    this process too, for in-process runs)."""
    home = tmp_path / 'user'
    home.mkdir()
    for key in list(os.environ):
        if key.startswith(('STORE_KIT_', 'XDG_')):
            monkeypatch.delenv(key)
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.setenv('STORE_KIT_HOME', str(tmp_path / 'skhome'))
    return dict(os.environ, PYTHONPATH=ROOT)


def sk_process(env, *args):
    """Run store-kit in a subprocess; returns (exit status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, '-m', 'store_kit.cli'] + list(args),
                          env=env, capture_output=True, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def sk(env, *args):
    """Run ``store_kit.cli.main(args)`` here; returns (status, stdout, stderr)."""
    from store_kit import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def ok(env, *args):
    code, out, err = sk(env, *args)
    assert code == 0, err
    return out


def one_line_error(err):
    lines = [line for line in err.strip().splitlines()
             if 'created the embedded default' not in line]
    assert len(lines) == 1, err
    assert lines[0].startswith('store-kit: error: ')
    return lines[0]


@pytest.fixture
def conf_file(tmp_path):
    """A config with a file store and a SQLite catalog (schema synced)."""
    path = tmp_path / 'store-kit.conf'
    path.write_text(textwrap.dedent("""
        [DEFAULT]
        enabled_backends = main:file
        [store_kit]
        default_backend = main
        [main]
        filesystem_store_datadir = {0}/main
        filesystem_store_fsync = false
        [catalog]
        connection = sqlite:///{0}/cat.db
        """.format(tmp_path)))
    return str(path)


# -- the embedded default ----------------------------------------------------

def test_demo_runs_on_the_embedded_default(env, tmp_path):
    code, out, err = sk_process(env, 'demo')
    assert code == 0, err
    home = str(tmp_path / 'skhome')
    assert 'created the embedded default in %s' % home in err
    assert os.path.isfile(os.path.join(home, 'catalog.db'))
    for text in ('Upload two images', 'legacy location', 'wrote 1',
                 'demo-bob accepted', 'refused: image', 'is in use',
                 'status pending_delete', 'scrubbed 3 locations', 'status deleted'):
        assert text in out
    code, out, err = sk_process(env, 'demo')  # second run: home exists, quiet
    assert code == 0 and 'created' not in err


def test_default_home_follows_xdg_data_home(env, tmp_path, monkeypatch):
    monkeypatch.delenv('STORE_KIT_HOME')
    monkeypatch.setenv('XDG_DATA_HOME', str(tmp_path / 'xdg'))
    assert 'file://%s/store-kit/images' % (tmp_path / 'xdg') in ok(env, 'stores')
    monkeypatch.delenv('XDG_DATA_HOME')
    assert 'file://%s/.local/share/store-kit/images' % env['HOME'] in ok(env, 'stores')


def test_stores_listing_as_table_and_json(env, tmp_path):
    out = ok(env, 'stores')
    header, row = out.splitlines()
    assert header.split() == ['name', 'driver', 'url_prefixes', 'default', 'read_only',
                              'reachable']
    assert row.split() == ['local', 'file', 'file://%s/skhome/images' % tmp_path,
                           'yes', 'no', 'yes']
    [store] = json.loads(ok(env, 'stores', '--format', 'json'))
    assert store['name'] == 'local' and store['default'] is True


def test_resolve(env, tmp_path):
    owned = 'file://%s/skhome/images/abc' % tmp_path
    code, out, err = sk(env, 'resolve', owned, 'http://bob:hunter2@elsewhere.example/x')
    assert code == 1
    assert out.splitlines() == ['%s -> local' % owned,
                                'http://***@elsewhere.example/x -> (none)']
    assert 'hunter2' not in out + err
    assert ok(env, 'resolve', owned) == '%s -> local\n' % owned


def test_image_lifecycle(env, tmp_path):
    data = os.urandom(200000)
    src = tmp_path / 'disk.img'
    src.write_bytes(data)
    shown = json.loads(ok(env, '--project', 'p1', 'image-upload', str(src),
                          '--property', 'os=linux', '--format', 'json'))
    image_id = shown['id']
    assert shown['status'] == 'active' and shown['size'] == len(data)
    assert shown['properties'] == {'os': 'linux'}
    listing = json.loads(ok(env, '--project', 'p1', 'image-list', '--format', 'json'))
    assert [i['id'] for i in listing] == [image_id]
    assert json.loads(ok(env, '--project', 'p2', 'image-list', '--format', 'json')) == []
    code, _, err = sk(env, '--project', 'p2', 'image-show', image_id)
    assert code == 1 and image_id in one_line_error(err)

    out_file = tmp_path / 'copy.img'
    assert 'verified' in ok(env, '--project', 'p1', 'image-download', image_id,
                            '-o', str(out_file))
    assert out_file.read_bytes() == data

    # a corrupt copy is an error, and leaves no output file behind
    path = shown['locations'][0].split(' ')[0][len('file://'):]
    os.chmod(path, 0o600)
    with open(path, 'r+b') as f:
        f.write(b'X')
    bad = tmp_path / 'bad.img'
    code, _, err = sk(env, '--project', 'p1', 'image-download', image_id, '-o', str(bad))
    assert code == 1 and 'does not match' in one_line_error(err)
    assert not bad.exists() and sorted(os.listdir(tmp_path)).count('bad.img') == 0
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.part')]

    assert 'deleted' in ok(env, '--project', 'p1', 'image-delete', image_id)
    assert not os.path.exists(path)


def test_members_dependencies_delayed_delete_and_scrub(env, tmp_path):
    src = tmp_path / 'a.img'
    src.write_bytes(b'a' * 1000)
    ids = [json.loads(ok(env, '--project', 'p1', 'image-upload', str(src), '--visibility',
                         'shared', '--format', 'json'))['id'] for _ in range(2)]
    base, app = ids
    ok(env, '--project', 'p1', 'member-add', base, 'p2')
    assert json.loads(ok(env, '--project', 'p2', 'image-list', '--format', 'json')) == []
    pending = json.loads(ok(env, '--project', 'p2', 'image-list', '--member-status',
                            'pending', '--format', 'json'))
    assert [i['id'] for i in pending] == [base]
    ok(env, '--project', 'p2', 'member-update', base, 'p2', 'accepted')
    members = json.loads(ok(env, '--project', 'p1', 'member-list', base, '--format', 'json'))
    assert [(m['member'], m['status']) for m in members] == [('p2', 'accepted')]
    assert [i['id'] for i in json.loads(
        ok(env, '--project', 'p2', 'image-list', '--format', 'json'))] == [base]
    ok(env, '--project', 'p1', 'member-delete', base, 'p2')
    assert json.loads(ok(env, '--project', 'p2', 'image-list', '--format', 'json')) == []

    ok(env, '--project', 'p1', 'dependency-set', app, base)
    assert ('needed by  %s' % app) in ok(env, '--project', 'p1', 'dependency-list', base)
    code, _, err = sk(env, '--project', 'p1', 'image-delete', base)
    assert code == 1 and 'in use' in one_line_error(err)
    ok(env, '--project', 'p1', 'dependency-delete', app, base)

    assert 'pending_delete' in ok(env, '--project', 'p1', 'image-delete', '--delayed', base)
    code, _, err = sk(env, '--project', 'p2', 'image-restore', base)
    assert code == 1 and base in one_line_error(err)        # not p2's image
    assert 'active again' in ok(env, 'scrub', '--restore', base)   # the operator may
    ok(env, '--project', 'p1', 'image-delete', '--delayed', base)
    assert ok(env, 'scrub') == 'scrubbed 1 location\n'
    assert ok(env, 'scrub') == 'scrubbed 0 locations\n'
    code, _, err = sk(env, '--project', 'p1', 'image-restore', base)
    assert code == 1 and 'deleted' in one_line_error(err)


def test_location_add_from_another_store(env, tmp_path, conf_file):
    with open(conf_file, 'a') as f:
        f.write('[DEFAULT]\nenabled_backends = main:file, spare:file\n'
                '[spare]\nfilesystem_store_datadir = %s/spare\n' % tmp_path)
    ok(env, '--config-file', conf_file, 'db', 'sync')
    src = tmp_path / 'a.img'
    src.write_bytes(b'z' * 5000)
    image = json.loads(ok(env, '--config-file', conf_file, 'image-upload', str(src),
                          '--format', 'json'))
    (tmp_path / 'spare').mkdir(exist_ok=True)
    (tmp_path / 'spare' / 'copy').write_bytes(b'z' * 5000)
    shown = json.loads(ok(env, '--config-file', conf_file, 'location-add', image['id'],
                          'file://%s/spare/copy' % tmp_path, '--format', 'json'))
    assert sorted(loc.rsplit(' ', 1)[1] for loc in shown['locations']) == \
        ['(main)', '(spare)']


def test_scrub_daemon_stops_on_sigterm(env, tmp_path):
    src = tmp_path / 'a.img'
    src.write_bytes(b'a')
    image_id = json.loads(ok(env, 'image-upload', str(src), '--format', 'json'))['id']
    ok(env, 'image-delete', '--delayed', image_id)
    proc = subprocess.Popen([sys.executable, '-m', 'store_kit.cli', 'scrub', '--daemon',
                             '--wakeup-time', '1'], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b'scrubbed 1 location\n'
        assert proc.stdout.readline() == b'scrubbed 0 locations\n'   # woke up again
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# -- configured catalogs, backfill, db -----------------------------------------

def test_db_sync_version_and_backfill_with_a_config_file(env, tmp_path, conf_file):
    code, _, err = sk(env, '--config-file', conf_file, 'image-list')
    assert code == 1 and 'db sync' in one_line_error(err)
    assert 'schema' in ok(env, '--config-file', conf_file, 'db', 'sync')
    version = ok(env, '--config-file', conf_file, 'db', 'version')
    assert 'schema none' not in version and 'newest' in version

    db = Catalog('sqlite:///%s/cat.db' % tmp_path)
    ctx = RequestContext('p1', is_admin=True)
    db.image_create(ctx, {'status': 'active', 'size': 1, 'locations': [
        {'url': 'file://%s/main/legacy-%d' % (tmp_path, i), 'metadata': {}}
        for i in range(5)] + [
        {'url': 'http://user:hunter2@old.example:8080/img', 'metadata': {}}]})
    db.dispose()
    out = ok(env, '--config-file', conf_file, 'backfill', '--dry-run')
    assert 'would write 5, 1 unresolved' in out
    out = ok(env, '--config-file', conf_file, 'backfill', '--batch-size', '2')
    assert '6 locations scanned: 0 already had a store, wrote 5, 1 unresolved' in out
    assert 'http://old.example:8080' in out and 'hunter2' not in out
    assert 'wrote 0' in ok(env, '--config-file', conf_file, 'backfill')


# -- errors --------------------------------------------------------------------

@pytest.mark.parametrize('args, needle', [
    ((), 'required'),
    (('frobnicate',), 'invalid choice'),
    (('image-show',), 'IMAGE_ID'),
    (('stores', '--format', 'xml'), 'xml'),
    (('backfill', '--batch-size', 'many'), 'many'),
    (('db',), 'required'),
    (('image-upload', 'f', '--property', 'novalue'), 'KEY=VALUE'),
])
def test_usage_errors_exit_2_with_one_line(env, args, needle):
    code, out, err = sk(env, *args)
    assert code == 2
    assert needle in one_line_error(err)
    assert 'Traceback' not in err


def test_bad_config_exits_2(env, tmp_path):
    code, _, err = sk(env, '--config-file', str(tmp_path / 'missing.conf'), 'stores')
    assert code == 2 and 'missing.conf' in one_line_error(err)

    bad = tmp_path / 'bad.conf'
    bad.write_text('[DEFAULT]\nenabled_backends = x:nodriver\n[store_kit]\n'
                   'default_backend = x\n')
    code, _, err = sk(env, '--config-file', str(bad), 'stores')
    assert code == 2 and 'nodriver' in one_line_error(err)

    bad.write_text('this is not ini\n')
    code, _, err = sk(env, '--config-file', str(bad), 'stores')
    assert code == 2 and 'bad.conf' in one_line_error(err)

    dbonly = tmp_path / 'dbonly.conf'          # db commands need no store
    dbonly.write_text('[catalog]\nconnection = sqlite:///%s/db-only.db\n' % tmp_path)
    assert 'schema' in ok(env, '--config-file', str(dbonly), 'db', 'sync')
    code, _, err = sk(env, '--config-file', str(dbonly), 'stores')
    assert code == 2 and 'enabled_backends' in one_line_error(err)

    nocat = tmp_path / 'nocat.conf'
    nocat.write_text('[DEFAULT]\nenabled_backends = m:file\n[store_kit]\n'
                     'default_backend = m\n[m]\nfilesystem_store_datadir = %s/m\n' % tmp_path)
    code, _, err = sk(env, '--config-file', str(nocat), 'image-list')
    assert code == 2 and '[catalog] connection' in one_line_error(err)


def test_unparsable_line_is_not_echoed(env, tmp_path):
    bad = tmp_path / 'bad.conf'
    bad.write_text('[DEFAULT]\nenabled_backends = a:s3\n[a]\n'
                   's3_store_secret_key SeCrEtKeY/x+y\n')
    code, out, err = sk(env, '--config-file', str(bad), 'stores')
    assert code == 2
    line = one_line_error(err)
    assert 'bad.conf at line 4' in line and 'SeCrEtKeY' not in err + out


def test_resolve_json(env):
    code, out, _ = sk(env, '--format', 'json', 'resolve',
                      'http://u:pw@h/x?sig=abc', 'ftp://nowhere/x')
    assert code == 1
    assert json.loads(out) == [{'url': 'http://***@h/x?...', 'store': None},
                               {'url': 'ftp://nowhere/x', 'store': None}]


def test_config_dir_and_secrets_never_shown(env, tmp_path):
    confdir = tmp_path / 'conf.d'
    confdir.mkdir()
    (confdir / '10-stores.conf').write_text(
        '[DEFAULT]\nenabled_backends = m:file\n[store_kit]\ndefault_backend = m\n'
        '[m]\nfilesystem_store_datadir = %s/m\n' % tmp_path)
    (confdir / '20-catalog.conf').write_text(
        '[catalog]\nconnection = postgresql+psycopg://admin:hunter2@127.0.0.1:1/nope\n')
    code, out, err = sk(env, '--config-dir', str(confdir), 'db', 'version')
    assert code == 1
    line = one_line_error(err)
    assert 'hunter2' not in out + err
    code, out, err = sk_process(env, '--config-dir', str(confdir), '--debug', 'db',
                                'version')
    assert code == 1 and 'Traceback' in err and 'hunter2' not in out + err
    assert line


def test_failed_operation_exits_1_with_one_line(env, tmp_path):
    code, _, err = sk(env, 'image-upload', str(tmp_path / 'nope.img'))
    assert code == 1 and 'nope.img' in one_line_error(err)
    code, _, err = sk(env, 'image-show', 'no-such-image')
    assert code == 1 and 'no-such-image' in one_line_error(err)
    code, _, err = sk_process(env, '--debug', 'image-show', 'no-such-image')
    assert code == 1 and 'Traceback' in err
    code, _, err = sk_process(env, 'image-show', 'no-such-image')
    assert code == 1 and 'Traceback' not in err and 'no-such-image' in one_line_error(err)


def test_usage_error_in_a_real_process(env):
    code, out, err = sk_process(env, 'image-show')
    assert (code, out) == (2, '')
    assert 'IMAGE_ID' in one_line_error(err)


def test_reader_going_away_is_not_an_error(env):
    """`store-kit image-list | head -1`: a closed pipe ends quietly."""
    ok(env, 'demo')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'store_kit.cli', '--format', 'json',
         'image-list', '--admin'],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        bufsize=0)
    proc.stdout.read(1)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert 'Broken pipe' not in err and 'Traceback' not in err


def test_resolve_never_prints_a_secret_read_as_a_host(env, tmp_path):
    """issue 8: a secret starting with digits then '/' was read as a port."""
    conf = tmp_path / 's3.conf'
    conf.write_text('[DEFAULT]\nenabled_backends = imgs:s3\n[store_kit]\n'
                    'default_backend = imgs\n[imgs]\n'
                    's3_store_host = http://127.0.0.1:5810\ns3_store_bucket = imgs\n'
                    's3_store_access_key = AKIANEW\ns3_store_secret_key = new\n')
    url = ('s3://AKIAIOSFODNN7EXAMPLE:9/alrXUtnFEMISECRETKEY+bPxRfiCY'
           '@127.0.0.1:5810/imgs/img')
    for fmt in ('table', 'json'):
        code, out, err = sk(env, '--config-file', str(conf), '--format', fmt,
                            'resolve', url)
        assert code == 0, err
        assert 'imgs' in out
        assert 'AKIAIOSFODNN7EXAMPLE' not in out + err
        assert 'alrXUtnFEMISECRETKEY' not in out + err
    assert out and json.loads(out) == [
        {'url': 's3://***@127.0.0.1:5810/imgs/img', 'store': 'imgs'}]


# -- configuration errors: one line, exit 2, section and option named --------
# -- (issue 8, findings 12 and 13)

GOOD_CONF = """[DEFAULT]
enabled_backends = m:file
[store_kit]
default_backend = m
[m]
filesystem_store_datadir = {d}/m
[catalog]
connection = sqlite:///{d}/cat.db
"""


def conf_with(tmp_path, extra, base=GOOD_CONF):
    """GOOD_CONF with *extra* lines (later values of an option win)."""
    path = tmp_path / 'edited.conf'
    path.write_text(base.format(d=tmp_path) + textwrap.dedent(extra))
    return str(path)


@pytest.mark.parametrize('extra,where,needle', [
    ('[scrubber]\nbatch_size = many\n', '[scrubber] batch_size', "'many'"),
    ('[scrubber]\nlease_seconds = 0\n', '[scrubber] lease_seconds', "'0'"),
    ('[image_service]\ndelayed_delete = maybe\n',
     '[image_service] delayed_delete', "'maybe'"),
    ('[image_service]\nuser_storage_quota = -5\n',
     '[image_service] user_storage_quota', "'-5'"),
    ('[DEFAULT]\nenabled_backends = m\n', '[DEFAULT] enabled_backends', "'m'"),
    ('[catalog]\nconnection = postgresql://admin:hunter2@db:abc/images\n',
     '[catalog] connection', 'not a valid SQLAlchemy URL'),
    ('[catalog]\nconnection = oracle+nope://admin:hunter2@db/images\n',
     '[catalog] connection', 'oracle+nope'),
    ('[m]\nfilesystem_store_datadir = /\n', '[m] filesystem_store_datadir',
     'root directory'),
])
@pytest.mark.parametrize('command', [('stores',), ('image-list',), ('scrub',),
                                     ('resolve', 'file:///x/y')])
def test_bad_values_exit_2_with_one_line(env, tmp_path, extra, where, needle,
                                         command):
    ok(env, '--config-file', conf_with(tmp_path, ''), 'db', 'sync')
    path = conf_with(tmp_path, extra)
    code, out, err = sk(env, '--config-file', path, *command)
    if '[catalog]' in where and command[0] in ('stores', 'resolve'):
        assert code in (0, 1)            # these commands need no catalog
        return
    assert code == 2, (out, err)
    line = one_line_error(err)
    assert line.startswith('store-kit: error: configuration: %s: ' % where)
    assert needle in line
    assert 'LocationInfo' not in line and 'hunter2' not in out + err
    assert 'Traceback' not in err


def test_bad_catalog_url_in_a_real_process_has_no_traceback(env, tmp_path):
    path = conf_with(tmp_path, '[catalog]\nconnection = '
                     'postgresql://admin:hunter2@db:abc/images\n')
    code, out, err = sk_process(env, '--config-file', path, 'image-list')
    assert code == 2 and 'Traceback' not in err and 'hunter2' not in out + err
    assert '[catalog] connection' in one_line_error(err)


@pytest.mark.parametrize('value', ['inf', 'nan', '-inf'])
def test_non_finite_timeouts_are_refused(env, tmp_path, value):
    base = GOOD_CONF.replace('m:file', 'm:file, cold:s3, web:http') + (
        '[cold]\ns3_store_host = http://127.0.0.1:1\ns3_store_bucket = bkt\n'
        's3_store_access_key = AK\ns3_store_secret_key = SK\n[web]\n')
    ok(env, '--config-file', conf_with(tmp_path, '', base=base), 'stores')
    for option, section in (('s3_store_connect_timeout', 'cold'),
                            ('s3_store_read_timeout', 'cold'),
                            ('http_timeout', 'web')):
        path = conf_with(tmp_path, '[%s]\n%s = %s\n' % (section, option, value),
                         base=base)
        code, _, err = sk(env, '--config-file', path, 'stores')
        assert code == 2
        assert ('[%s] %s' % (section, option)) in one_line_error(err)


def test_resolve_reports_a_configuration_error_like_stores(env, tmp_path):
    """issue 8, finding 13: resolve used to print '-> (none)', exit 1."""
    path = conf_with(tmp_path, '[m]\nfilesystem_store_chunk_size = lots\n')
    code, out, err = sk(env, '--config-file', path, 'stores')
    assert code == 2
    expected = one_line_error(err)
    code, out, err = sk(env, '--config-file', path, 'resolve',
                        'file://%s/m/img' % tmp_path)
    assert (code, out) == (2, '')
    assert one_line_error(err) == expected
