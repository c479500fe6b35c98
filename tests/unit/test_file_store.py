"""The file store: atomic writes, datadir choice, confinement, errors."""

import errno
import hashlib
import io
import os
import stat
import threading

import pytest

from store_kit import exceptions
from tests.helpers import make_registry, read_only_mount, small_filesystem


def registry(tmp_path, options='', datadirs=None):
    if datadirs is None:
        dirs = 'filesystem_store_datadir = %s/data' % tmp_path
    else:
        dirs = '\n'.join('filesystem_store_datadirs = %s' % d
                         for d in datadirs)
    return make_registry(tmp_path, """
        [DEFAULT]
        enabled_backends = fs:file
        [store_kit]
        default_backend = fs
        [fs]
        %s
        %s
        """ % (dirs, options))


@pytest.fixture
def store(tmp_path):
    return registry(tmp_path)['fs']


def files_in(path):
    return sorted(os.listdir(path))


def test_add_get_round_trip(store, tmp_path):
    data = os.urandom(2 * 1024 * 1024 + 1)
    res = store.add('img', io.BytesIO(data), len(data), 'sha256')
    assert res.url == 'file://%s/data/img' % tmp_path
    assert res.size == len(data)
    assert res.checksum == hashlib.md5(data).hexdigest()
    assert res.multihash == hashlib.sha256(data).hexdigest()
    assert res.metadata == {'store': 'fs'}
    it, size = store.get(res.url)
    assert size == len(data) and b''.join(it) == data
    assert store.get_size(res.url) == len(data)
    assert files_in(tmp_path / 'data') == ['img']
    assert stat.S_IMODE(os.stat(tmp_path / 'data' / 'img').st_mode) == 0o600


@pytest.mark.parametrize('offset,length,expect', [
    (0, None, slice(0, None)), (10, None, slice(10, None)),
    (10, 5, slice(10, 15)), (95, 50, slice(95, 100)), (100, None,
                                                       slice(100, 100)),
    (0, 0, slice(0, 0)),
])
def test_get_offset_length(store, offset, length, expect):
    data = bytes(range(100))
    res = store.add('img', [data])
    it, size = store.get(res.url, offset=offset, length=length)
    got = b''.join(it)
    assert got == data[expect] and size == len(got)


def test_get_offset_past_end(store):
    res = store.add('img', [b'abc'])
    with pytest.raises(exceptions.Invalid):
        store.get(res.url, offset=4)


def test_iterator_close_releases_file(store):
    res = store.add('img', [os.urandom(300000)])
    it, _ = store.get(res.url)
    next(it)
    fds_before = len(os.listdir('/proc/self/fd'))
    it.close()
    assert len(os.listdir('/proc/self/fd')) == fds_before - 1


def test_duplicate_never_overwrites(store, tmp_path):
    store.add('img', [b'first'])
    with pytest.raises(exceptions.Duplicate) as err:
        store.add('img', [b'second'])
    assert 'img' in str(err.value)
    assert (tmp_path / 'data' / 'img').read_bytes() == b'first'
    assert files_in(tmp_path / 'data') == ['img']


def test_concurrent_adds_of_one_id_one_wins(store, tmp_path):
    results = []

    def add(i):
        try:
            store.add('img', [b'%d' % i * 100000])
            results.append('ok')
        except exceptions.Duplicate:
            results.append('dup')
    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ['dup'] * 5 + ['ok']
    assert files_in(tmp_path / 'data') == ['img']


def failing_source():
    yield b'x' * 5000
    raise IOError('client went away')


@pytest.mark.parametrize('data,size,exc', [
    (failing_source, 0, IOError),
    (lambda: [b'x' * 10], 11, exceptions.SizeMismatch),
    (lambda: [b'x' * 12], 11, exceptions.SizeMismatch),
])
def test_failures_leave_no_file(store, tmp_path, data, size, exc):
    with pytest.raises(exc):
        store.add('img', data(), size)
    assert files_in(tmp_path / 'data') == []


@pytest.mark.parametrize('direct', ['true', 'false'])
def test_enospc_is_storage_full_and_leaves_nothing(tmp_path, monkeypatch,
                                                   direct):
    store = registry(tmp_path, 'filesystem_store_direct_io = %s'
                     % direct)['fs']

    def full(fd, data):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(os, 'write', full)
    with pytest.raises(exceptions.StorageFull) as err:
        store.add('img', [b'abc' * 500000])
    assert 'img' in str(err.value) and "'fs'" in str(err.value)
    monkeypatch.undo()
    assert files_in(tmp_path / 'data') == []


@pytest.mark.parametrize('size', [0, 1, 4096, 1 << 20, (1 << 20) + 1,
                                  3 * (1 << 20) + 4095])
@pytest.mark.parametrize('direct', ['true', 'false'])
def test_direct_and_buffered_writes_round_trip(tmp_path, size, direct):
    store = registry(tmp_path, 'filesystem_store_direct_io = %s'
                     % direct)['fs']
    data = os.urandom(size)
    res = store.add('img', io.BytesIO(data), size)
    assert (tmp_path / 'data' / 'img').read_bytes() == data
    assert res.checksum == hashlib.md5(data).hexdigest()


def test_filesystem_refusing_o_direct_falls_back(store, tmp_path,
                                                 monkeypatch):
    real_write = os.write
    refused = []

    def write(fd, data):
        import fcntl
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, 'Invalid argument')
        return real_write(fd, data)
    monkeypatch.setattr(os, 'write', write)
    data = os.urandom(3 * (1 << 20) + 7)
    store.add('img', [data])
    monkeypatch.undo()
    assert refused == [1 << 20]          # tried once, then buffered
    assert (tmp_path / 'data' / 'img').read_bytes() == data


def test_fsync_on_by_default_and_can_be_disabled(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: (calls.append(fd), real(fd)))
    registry(tmp_path)['fs'].add('a', [b'x'])
    assert len(calls) == 2            # the file and its directory
    calls.clear()
    (tmp_path / 'nofsync').mkdir()
    reg = registry(tmp_path / 'nofsync', 'filesystem_store_fsync = false')
    reg['fs'].add('b', [b'x'])
    assert calls == []


def test_file_perm(tmp_path):
    store = registry(tmp_path, 'filesystem_store_file_perm = 640')['fs']
    store.add('img', [b'x'])
    mode = stat.S_IMODE(os.stat(tmp_path / 'data' / 'img').st_mode)
    assert mode == 0o640


def test_priorities_and_free_space(tmp_path, monkeypatch):
    reg = registry(tmp_path, datadirs=['%s/low:1' % tmp_path,
                                       '%s/high-a:10' % tmp_path,
                                       '%s/high-b:10' % tmp_path])
    store = reg['fs']
    assert len(store.url_prefixes) == 3
    free = {'low': 10 ** 12, 'high-a': 10 ** 6, 'high-b': 10 ** 9}
    real = os.statvfs

    def statvfs(path):
        st = real(path)
        name = os.path.basename(path)

        class S:
            f_frsize = 1
            f_bavail = free.get(name, st.f_bavail * st.f_frsize)
        return S
    monkeypatch.setattr(os, 'statvfs', statvfs)
    assert '/high-b/' in store.add('a', [b'x']).url
    free['high-b'] = 0
    assert '/high-a/' in store.add('b', [b'x']).url
    # high-a has no room for a declared 2 MB image: the lower priority wins
    assert '/low/' in store.add('c', [b'y' * 2000000], 2000000).url
    free['low'] = 0
    with pytest.raises(exceptions.StorageFull):
        store.add('d', [b'y' * 2000000], 2000000)
    # every datadir's URLs resolve to this store
    for name in ('low', 'high-a', 'high-b'):
        assert reg.resolve('file://%s/%s/z' % (tmp_path, name)) == 'fs'


def test_confinement(store, tmp_path):
    secret = tmp_path / 'secret'
    secret.write_bytes(b'top secret')
    os.symlink(str(secret), str(tmp_path / 'data' / 'link'))
    os.makedirs(tmp_path / 'data' / 'sub')
    bad_urls = [
        'file://%s/secret' % tmp_path,
        'file://%s/data/../secret' % tmp_path,
        'file://%s/data/link' % tmp_path,             # symlink out
        'file://%s/data' % tmp_path,                  # the datadir itself
        'file:///etc/passwd',
        'file:///../etc/passwd',
        'http://host%s/data/x' % tmp_path,
    ]
    for url in bad_urls:
        for call in (store.get, store.delete, store.get_size):
            with pytest.raises(exceptions.BadStoreUri):
                call(url)
    assert secret.read_bytes() == b'top secret'
    with pytest.raises(exceptions.BadStoreUri):
        store.get('file://%s/data/sub' % tmp_path)


def test_not_found(store, tmp_path):
    url = 'file://%s/data/missing' % tmp_path
    for call in (store.get, store.delete, store.get_size):
        with pytest.raises(exceptions.NotFound) as err:
            call(url)
        assert 'missing' in str(err.value)


def test_delete(store, tmp_path):
    res = store.add('img', [b'x'])
    store.delete(res.url)
    assert files_in(tmp_path / 'data') == []


@pytest.mark.parametrize('image_id', ['', '../x', 'a/b', '..', None])
def test_bad_image_ids(store, image_id):
    with pytest.raises(exceptions.Invalid):
        store.add(image_id, [b'x'])


@pytest.mark.parametrize('options,option', [
    ('', 'filesystem_store_datadir'),
    ('filesystem_store_datadir = relative/path', 'filesystem_store_datadir'),
    ('filesystem_store_datadir = /tmp/a\nfilesystem_store_datadirs = /tmp/b',
     'filesystem_store_datadirs'),
    ('filesystem_store_datadirs = /tmp/sk-x:high',
     'filesystem_store_datadirs'),
    ('filesystem_store_datadirs = /tmp/sk-x:1\n'
     'filesystem_store_datadirs = /tmp/sk-x/:2', 'filesystem_store_datadirs'),
    ('filesystem_store_datadir = /tmp/sk-y\nfilesystem_store_file_perm = 999',
     'filesystem_store_file_perm'),
    ('filesystem_store_datadir = /tmp/sk-y\nfilesystem_store_chunk_size = 0',
     'filesystem_store_chunk_size'),
])
def test_bad_config(tmp_path, options, option):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_registry(tmp_path, """
            [DEFAULT]
            enabled_backends = fs:file
            [store_kit]
            default_backend = fs
            [fs]
            %s
            """ % options)
    assert err.value.section == 'fs' and err.value.option == option
    assert '[fs] %s' % option in str(err.value)


def test_add_accepts_one_bytes_object(store):
    res = store.add('img', b'abc', 3)
    assert res.size == 3 and b''.join(store.get(res.url)[0]) == b'abc'


@pytest.mark.parametrize('size', [-1, None, '3', 1.5])
def test_bad_size_is_invalid_and_leaves_nothing(store, tmp_path, size):
    with pytest.raises(exceptions.Invalid) as err:
        store.add('img', b'abc', size)
    assert repr(size) in str(err.value)
    assert files_in(tmp_path / 'data') == []


def test_whole_blocks_are_written_with_o_direct(store, monkeypatch):
    import fcntl
    real_write = os.write
    seen = []

    def write(fd, data):
        seen.append((len(data),
                     bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)))
        return real_write(fd, data)
    monkeypatch.setattr(os, 'write', write)
    store.add('img', [os.urandom(2 * (1 << 20) + 10)])
    monkeypatch.undo()
    assert seen == [(1 << 20, True), (1 << 20, True), (10, False)]


def test_datadir_behind_a_symlink_owns_both_spellings(tmp_path):
    (tmp_path / 'real').mkdir()
    os.symlink(str(tmp_path / 'real'), str(tmp_path / 'data'))
    reg = registry(tmp_path)
    store = reg['fs']
    assert store.url_prefixes == ['file://%s/data' % tmp_path,
                                  'file://%s/real' % tmp_path]
    res = store.add('img', [b'abc'])
    assert res.url == 'file://%s/data/img' % tmp_path   # as configured
    for spelling in ('data', 'real'):
        url = 'file://%s/%s/img' % (tmp_path, spelling)
        assert reg.resolve(url) == 'fs'
        assert b''.join(reg.get(url)[0]) == b'abc'


def test_delete_through_a_symlink_alias_is_refused(store, tmp_path):
    res = store.add('victim', [b'precious'])
    os.symlink(str(tmp_path / 'data' / 'victim'),
               str(tmp_path / 'data' / 'alias'))
    alias = 'file://%s/data/alias' % tmp_path
    for call in (store.delete, store.get, store.get_size):
        with pytest.raises(exceptions.BadStoreUri) as err:
            call(alias)
        assert 'symlink' in str(err.value)
    assert b''.join(store.get(res.url)[0]) == b'precious'


# -- image ids that could not read back (issue 8, finding 5) ----------------

REFUSED_IDS = ['victim?x=1', 'a#b', '%2e%2e', 'x%2fy', '%41', 'x' * 300,
               '\x00', 'na\udcffme', 'a\nb', 'tab\there', '\x85', '.', '..',
               'a/b', '', None, 7, b'bytes']


@pytest.mark.parametrize('image_id', REFUSED_IDS)
def test_ids_that_would_not_read_back_are_refused_before_writing(
        store, tmp_path, image_id):
    victim = store.add('victim', [b'VICTIM'])
    with pytest.raises(exceptions.Invalid) as err:
        store.add(image_id, [b'X'])
    assert repr(image_id) in str(err.value)
    assert files_in(tmp_path / 'data') == ['victim']      # no file, no tmp
    assert b''.join(store.get(victim.url)[0]) == b'VICTIM'


@pytest.mark.parametrize('image_id', [
    '3f1e0c2a-9b7d-4c1e-8f00-2a6c5e4b7d11', 'a.b', 'a b', '\u00e9', 'a+b',
    'a@b', 'a:b', '~x', "it's", 'x%2Fy', '\u65e5\u672c'])
def test_ordinary_ids_round_trip(store, tmp_path, image_id):
    store.add('victim', [b'VICTIM'])
    res = store.add(image_id, [b'mine'])
    assert b''.join(store.get(res.url)[0]) == b'mine'
    assert store.get_size(res.url) == 4
    store.delete(res.url)
    assert files_in(tmp_path / 'data') == ['victim']


def test_longest_id_fits_name_max_with_its_temp_name(store, tmp_path):
    longest = store.max_image_id_bytes
    assert longest == os.pathconf(str(tmp_path / 'data'), 'PC_NAME_MAX') - 14
    res = store.add('x' * longest, [b'long'])
    assert b''.join(store.get(res.url)[0]) == b'long'
    for too_long in ('y' * (longest + 1), '\u00e9' * (longest // 2 + 1)):
        with pytest.raises(exceptions.Invalid) as err:
            store.add(too_long, [b'z'])
        assert 'UTF-8 bytes' in str(err.value)
    assert files_in(tmp_path / 'data') == ['x' * longest]


# -- data and URLs that are not what they should be -------------------------

@pytest.mark.parametrize('data', [None, 5, 'text', io.StringIO('text')])
def test_data_that_is_not_bytes_is_invalid_and_leaves_nothing(store, tmp_path,
                                                              data):
    with pytest.raises(exceptions.Invalid):
        store.add('img', data)
    assert files_in(tmp_path / 'data') == []


@pytest.mark.parametrize('url', [
    'file://{d}/data/na\udcffme', 'file://{d}/data/a\x00b', None, 42,
    b'file:///x', 'file://{d}/data/' + 'x' * 300])
def test_odd_location_urls_are_store_kit_errors(store, tmp_path, url):
    if isinstance(url, str):
        url = url.format(d=tmp_path)
    for call in (store.get, store.delete, store.get_size):
        with pytest.raises((exceptions.BadStoreUri, exceptions.NotFound)) as err:
            call(url)
        str(err.value).encode('utf-8')           # printable as it is
        assert '\x00' not in str(err.value)


@pytest.mark.parametrize('offset,length', [(True, None), (0, False)])
def test_booleans_are_no_offsets(store, offset, length):
    res = store.add('img', [b'abc'])
    with pytest.raises(exceptions.Invalid):
        store.get(res.url, offset=offset, length=length)


# -- datadirs (issue 8, findings 9, 10 and 12) -------------------------------

def bad_datadirs(tmp_path, lines):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_registry(tmp_path, """
            [DEFAULT]
            enabled_backends = fs:file
            [store_kit]
            default_backend = fs
            [fs]
            %s
            """ % '\n'.join(lines))
    return err.value


@pytest.mark.parametrize('name', ['pct%41', 'what?', 'hash#tag', 'x%2fy',
                                  'nul\x01'])
def test_datadir_that_cannot_round_trip_is_refused(tmp_path, name):
    path = '%s/%s' % (tmp_path, name)
    err = bad_datadirs(tmp_path, ['filesystem_store_datadir = %s' % path])
    assert (err.section, err.option) == ('fs', 'filesystem_store_datadir')
    assert repr(path) in str(err)
    assert not os.path.exists(path)              # refused before mkdir
    err = bad_datadirs(tmp_path, ['filesystem_store_datadirs = %s/ok:1'
                                  % tmp_path,
                                  'filesystem_store_datadirs = %s:2' % path])
    assert err.option == 'filesystem_store_datadirs'


def test_datadir_whose_real_path_cannot_round_trip_is_refused(tmp_path):
    (tmp_path / 'real%41').mkdir()
    os.symlink(str(tmp_path / 'real%41'), str(tmp_path / 'link'))
    err = bad_datadirs(tmp_path, ['filesystem_store_datadir = %s/link'
                                  % tmp_path])
    assert '%s/link' % tmp_path in str(err) and 'real%41' in str(err)


@pytest.mark.parametrize('root', ['/', '//', '/tmp/..'])
def test_root_datadir_is_refused(tmp_path, root):
    err = bad_datadirs(tmp_path, ['filesystem_store_datadir = %s' % root])
    assert 'root directory' in str(err) and repr(root) in str(err)


def test_root_behind_a_symlink_is_refused(tmp_path):
    os.symlink('/', str(tmp_path / 'everything'))
    err = bad_datadirs(tmp_path, ['filesystem_store_datadir = %s/everything'
                                  % tmp_path])
    assert 'root directory' in str(err)


def test_nested_datadirs_of_one_store_are_refused(tmp_path):
    err = bad_datadirs(tmp_path, [
        'filesystem_store_datadirs = %s/d1:1' % tmp_path,
        'filesystem_store_datadirs = %s/d1/sub:2' % tmp_path])
    assert err.option == 'filesystem_store_datadirs'
    assert '%s/d1' % tmp_path in str(err) and '%s/d1/sub' % tmp_path in str(err)


def test_nested_datadirs_through_a_symlink_are_refused(tmp_path):
    (tmp_path / 'd1' / 'sub').mkdir(parents=True)
    os.symlink(str(tmp_path / 'd1' / 'sub'), str(tmp_path / 'link'))
    err = bad_datadirs(tmp_path, [
        'filesystem_store_datadirs = %s/link:1' % tmp_path,
        'filesystem_store_datadirs = %s/d1:2' % tmp_path])
    assert '%s/d1' % tmp_path in str(err) and '%s/d1/sub' % tmp_path in str(err)


def test_sibling_and_unusual_but_safe_datadirs_are_fine(tmp_path):
    dirs = ['%s/d1:1' % tmp_path, '%s/d10:1' % tmp_path,
            '%s/sp ace+pl@s \u00e9:1' % tmp_path]
    store = registry(tmp_path, datadirs=dirs)['fs']
    for i, (_, path) in enumerate(store.datadirs):
        url = store._url_for('img', path)
        assert store.parse_location(url).path == path + '/img'
    res = store.add('img', [b'ok'])
    assert b''.join(store.get(res.url)[0]) == b'ok'


# -- every OSError is a store_kit error (issue 8, finding 11) ----------------

def test_read_only_datadir_is_forbidden_and_leaves_nothing(tmp_path):
    store = registry(tmp_path)['fs']
    kept = store.add('kept', [b'old'])
    with read_only_mount(tmp_path / 'data'):
        for size in (0, 3):
            with pytest.raises(exceptions.Forbidden) as err:
                store.add('img', [b'new'], size)
            assert "'fs'" in str(err.value) and str(tmp_path / 'data') in str(err.value)
            assert 'img' in str(err.value)
        with pytest.raises(exceptions.Forbidden) as err:
            store.delete(kept.url)
        assert str(tmp_path / 'data' / 'kept') in str(err.value)
        assert b''.join(store.get(kept.url)[0]) == b'old'   # reads still work
        assert files_in(tmp_path / 'data') == ['kept']


@pytest.mark.parametrize('direct', ['true', 'false'])
@pytest.mark.parametrize('declared', [False, True])
def test_full_filesystem_is_storage_full_and_leaves_nothing(tmp_path, direct,
                                                            declared):
    with small_filesystem(tmp_path / 'data', '1m'):
        store = registry(tmp_path, 'filesystem_store_direct_io = %s'
                         % direct)['fs']
        data = os.urandom(3 * (1 << 20))
        with pytest.raises(exceptions.StorageFull) as err:
            store.add('img', io.BytesIO(data), len(data) if declared else 0)
        assert "'fs'" in str(err.value)
        assert files_in(tmp_path / 'data') == []
        small = store.add('small', [b'fits'])          # the store still works
        assert b''.join(store.get(small.url)[0]) == b'fits'


def test_vanished_datadir_is_a_backend_error_not_storage_full(tmp_path):
    import shutil
    store = registry(tmp_path)['fs']
    shutil.rmtree(tmp_path / 'data')
    with pytest.raises(exceptions.BackendError) as err:
        store.add('img', [b'x'])
    assert str(tmp_path / 'data') in str(err.value) and "'fs'" in str(err.value)


def _eio(*args, **kwargs):
    raise OSError(errno.EIO, 'Input/output error')


def _close_then_eio(fd, _real=os.close):
    _real(fd)
    raise OSError(errno.EIO, 'Input/output error')


@pytest.mark.parametrize('module,name,fake', [
    ('tempfile', 'mkstemp', _eio), ('os', 'fsync', _eio),
    ('os', 'link', _eio), ('os', 'close', _close_then_eio)])
def test_any_write_oserror_is_a_backend_error_and_leaves_nothing(
        store, tmp_path, monkeypatch, module, name, fake):
    import importlib
    monkeypatch.setattr(importlib.import_module(module), name, fake)
    with pytest.raises(exceptions.BackendError) as err:
        store.add('img', [b'x' * 1000])
    monkeypatch.undo()
    assert err.value.code == 'EIO' and "'fs'" in str(err.value)
    assert files_in(tmp_path / 'data') == []


def test_read_errors_are_backend_errors(store, monkeypatch):
    res = store.add('img', [b'x' * 300000])
    it, _ = store.get(res.url)
    next(it)
    monkeypatch.setattr(os, 'lstat', lambda p: (_ for _ in ()).throw(
        OSError(errno.EIO, 'Input/output error')))
    with pytest.raises(exceptions.BackendError) as err:
        store.get_size(res.url)
    assert err.value.code == 'EIO' and 'img' in str(err.value)
    it.close()
