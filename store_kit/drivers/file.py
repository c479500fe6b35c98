"""The file store: images as files in one or several local directories.

Writes go to a temp file in the target directory, are fsync'ed (unless
disabled) and linked into place atomically without ever overwriting.  Every
URL is confined: a path that resolves (symlinks included) outside all the
store's datadirs is refused before any read or unlink.
"""

import contextlib
import errno
import fcntl
import logging
import mmap
import os
import stat
import tempfile

from oslo_config import cfg

from store_kit import driver
from store_kit import exceptions
from store_kit import location

LOG = logging.getLogger(__name__)

OPTIONS = [
    cfg.StrOpt('filesystem_store_datadir',
               help='Directory holding the image files. Use either this or '
                    'filesystem_store_datadirs.'),
    cfg.MultiStrOpt('filesystem_store_datadirs',
                    help='Several directories, one "path:priority" per line '
                         '(repeat the option). New images go to the highest '
                         'priority directory with room, and within a '
                         'priority to the one with most free space.'),
    cfg.IntOpt('filesystem_store_file_perm', default=0,
               help='Permissions of new image files, written as octal '
                    'digits (e.g. 640). 0 keeps the default (0600).'),
    cfg.IntOpt('filesystem_store_chunk_size', default=64 * 1024, min=1,
               help='Size in bytes of the chunks get() yields.'),
    cfg.BoolOpt('filesystem_store_fsync', default=True,
                help='fsync each new image file and its directory before '
                     'add() returns. Turning it off is faster and loses '
                     'recently added images on a power failure.'),
    cfg.BoolOpt('filesystem_store_direct_io', default=True,
                help='Write new image files with O_DIRECT, bypassing the '
                     'page cache: far less CPU per byte, and images being '
                     'written do not evict what readers cache. Falls back '
                     'to ordinary writes where the filesystem refuses '
                     'O_DIRECT (tmpfs, some network filesystems).'),
]

_WRITE_BLOCK = 1 << 20
_ALIGN = 4096


class FileLocation(location.StoreLocation):
    """A ``file://`` location: ``path`` is the normalised absolute path."""

    @property
    def path(self):
        return self.parsed.path


class FileStore(driver.Store):
    """Store images as files under one or several datadirs."""

    driver_name = 'file'
    schemes = ('file', 'filesystem')
    options = OPTIONS
    capabilities = driver.Capabilities.ALL
    location_class = FileLocation

    def configure(self):
        group = self.group
        single = group.filesystem_store_datadir
        multi = group.filesystem_store_datadirs or []
        if single and multi:
            raise self.bad_option(
                'filesystem_store_datadirs',
                'set either filesystem_store_datadir or '
                'filesystem_store_datadirs, not both')
        if not single and not multi:
            raise self.bad_option('filesystem_store_datadir',
                                  'no datadir configured')
        if single:
            dirs = [(single, 0, 'filesystem_store_datadir')]
        else:
            dirs = [self._parse_datadir(entry) + ('filesystem_store_datadirs',)
                    for entry in multi]
        self.datadirs = []          # [(priority, configured path)]
        self.real_datadirs = []     # their real paths, for confinement
        seen = set()
        for path, priority, option in dirs:
            real = self._prepare_dir(path, option)
            if real in seen:
                raise self.bad_option(option, 'datadir %r listed twice' % path)
            seen.add(real)
            self.datadirs.append((priority, _normpath(path)))
            self.real_datadirs.append(real)
        self._check_not_nested(dirs[0][2])
        # The longest image id whose temp file ".<id>.<8 random>.tmp" fits
        # in a file name on every datadir.
        self.max_image_id_bytes = min(
            _name_max(d) for d in self.real_datadirs) - len('...tmp') - 8
        # Legacy URLs carry the configured path (which may go through a
        # symlink); the real path owns the same files.
        self.url_prefixes = []
        for (_, path), real in zip(self.datadirs, self.real_datadirs):
            for d in (path, real):
                if 'file://' + d not in self.url_prefixes:
                    self.url_prefixes.append('file://' + d)
        #: whether a datadir is reached through a symlink (two spellings)
        self._symlinked = any(os.path.normpath(path) != real for (_, path), real
                              in zip(self.datadirs, self.real_datadirs))
        perm = group.filesystem_store_file_perm
        if perm < 0 or any(c not in '01234567' for c in str(perm)) or (
                int(str(perm), 8) > 0o777):
            raise self.bad_option('filesystem_store_file_perm',
                                  '%r is not an octal mode like 640' % perm)
        self.file_perm = int(str(perm), 8) if perm else 0
        self.chunk_size = group.filesystem_store_chunk_size
        self.fsync = group.filesystem_store_fsync
        self.direct_io = group.filesystem_store_direct_io

    def _parse_datadir(self, entry):
        path, sep, prio = entry.strip().rpartition(':')
        if not sep:
            return entry.strip(), 0
        try:
            return path, int(prio)
        except ValueError:
            raise self.bad_option('filesystem_store_datadirs',
                                  'priority %r of %r is not an integer'
                                  % (prio, entry))

    def _prepare_dir(self, path, option):
        """Create datadir *path* if needed; return its real path.  A
        datadir must be absolute, not '/', and written in a file:// URL
        (configured and real spelling alike) must read back as itself."""
        if not path or not os.path.isabs(path):
            raise self.bad_option(option, 'datadir %r is not an absolute '
                                          'path' % path)
        self._check_url_safe(path, path, option)
        try:
            os.makedirs(path, mode=0o750, exist_ok=True)
        except OSError as exc:
            raise self.bad_option(option, 'cannot create datadir %r: %s'
                                  % (path, exc.strerror))
        if not os.path.isdir(path):
            raise self.bad_option(option, '%r is not a directory' % path)
        real = os.path.realpath(path)
        self._check_url_safe(path, real, option)
        return real

    def _check_url_safe(self, configured, path, option):
        """Refuse datadir *path* (a spelling of *configured*) unless the
        URL ``file://<path>`` reads back as that path, and it is not '/'."""
        normal = _normpath(path)
        if normal == '/':
            raise self.bad_option(option, 'datadir %r is the root directory: '
                                          'it would own every file:// URL'
                                  % configured)
        back = None
        if location.printable(normal) == normal:   # no control, surrogate
            try:
                back = location.parse('file://' + normal).path
            except exceptions.BadStoreUri:
                pass
        if back != normal:
            what = '' if path == configured else ' (real path %r)' % path
            raise self.bad_option(
                option, 'datadir %r%s cannot be written in a file:// URL '
                'that reads back the same path (a URL of it would read %r): '
                'use a path without "%%", "?", "#" or control characters'
                % (configured, what, back))

    def _check_not_nested(self, option):
        """Two datadirs of this store may not contain one another (under
        any spelling): files of one would be listed, read and deleted as
        files of the other."""
        spellings = []
        for i, ((_, path), real) in enumerate(zip(self.datadirs,
                                                  self.real_datadirs)):
            for d in (path, real):
                spellings.append((i, d, location.parse('file://' + d).segments))
        for i, outer, osegs in spellings:
            for j, inner, isegs in spellings:
                if i != j and len(osegs) < len(isegs) and (
                        isegs[:len(osegs)] == osegs):
                    raise self.bad_option(
                        option, 'datadir %r contains datadir %r: one store\'s '
                        'datadirs may not nest' % (outer, inner))

    def aliases(self, url):
        """*url* under each spelling of its datadir: the configured path
        and, when that goes through a symlink, the real one."""
        if not self._symlinked:
            return [url]
        try:
            segments = location.match_key(url)[1]
        except exceptions.BadStoreUri:
            return [url]
        found = [url]
        if segments is None:
            return found
        for (_, path), real in zip(self.datadirs, self.real_datadirs):
            spellings = [tuple(p.strip('/').split('/')) if p.strip('/') else ()
                         for p in (path, real)]
            for head in spellings:
                if segments[:len(head)] == head and len(segments) > len(head):
                    tail = '/'.join(segments[len(head):])
                    for other in (path, real):
                        alias = 'file://%s/%s' % (other.rstrip('/'), tail)
                        if alias not in found:
                            found.append(alias)
                    break
        return found

    # -- confinement -------------------------------------------------------

    def _confined_path(self, loc):
        """The path of *loc*, if it resolves (symlinks included) to a file
        strictly inside one of our datadirs and is not itself a symlink."""
        path = loc.parsed.path
        real = os.path.realpath(path)
        if any(real.startswith(d + os.sep) and len(real) > len(d) + 1
               for d in self.real_datadirs):
            if not os.path.islink(path):
                return path
            raise exceptions.BadStoreUri('location %s is a symlink: refused '
                                         'by store %r' % (loc.url, self.name))
        raise exceptions.BadStoreUri('location %s is outside the datadirs of '
                                     'store %r' % (loc.url, self.name))

    # -- write -------------------------------------------------------------

    def write_block_size(self, size):
        block = max(self.chunk_size, _WRITE_BLOCK)
        return -(-block // _ALIGN) * _ALIGN        # whole pages for O_DIRECT

    def _choose_datadir(self, size):
        """Highest priority dir with room; most free space within it."""
        best = None
        failed = None
        for priority, path in self.datadirs:
            try:
                st = os.statvfs(path)
            except OSError as exc:
                LOG.warning('store %s: cannot stat datadir %s: %s',
                            self.name, path, exc.strerror)
                failed = failed or (exc, path)
                continue
            free = st.f_bavail * st.f_frsize
            if free <= 0 or free < size:
                continue
            key = (priority, free)
            if best is None or key > best[0]:
                best = (key, path)
        if best is None:
            if failed is not None:
                raise self._fs_error(failed[0], 'stat datadir', failed[1],
                                     missing=False)
            raise exceptions.StorageFull(
                'store %r: no datadir has room for %d bytes'
                % (self.name, size))
        return best[1]

    def _url_for(self, image_id, datadir=None):
        if datadir is None:
            datadir = self.datadirs[0][1]
        return 'file://' + os.path.join(datadir, image_id)

    def _image_id_of(self, loc):
        head, _, name = loc.parsed.path.rpartition('/')
        if head in self.real_datadirs or any(
                head == path for _, path in self.datadirs):
            return name
        return None

    def _add(self, image_id, reader):
        datadir = self._choose_datadir(reader.expected_size)
        final = os.path.join(datadir, image_id)
        if os.path.lexists(final):
            raise exceptions.Duplicate('image %r already exists in store %r'
                                       % (image_id, self.name))
        what = 'write image %r in' % image_id
        with self._fs_errors(what, datadir):
            fd, tmp = tempfile.mkstemp(dir=datadir, prefix='.%s.' % image_id,
                                       suffix='.tmp')
        try:
            writer = _BlockWriter(fd, reader.block_size, self.direct_io)
            try:
                for block in reader:        # input errors propagate as-is
                    with self._fs_errors(what, datadir):
                        writer.write(block)
                with self._fs_errors(what, datadir):
                    if self.file_perm:
                        os.fchmod(fd, self.file_perm)
                    if self.fsync:
                        os.fsync(fd)
            finally:
                writer.close()
                with self._fs_errors(what, datadir):
                    os.close(fd)
            with self._fs_errors(what, datadir):
                try:
                    os.link(tmp, final)        # atomic, never overwrites
                except FileExistsError:
                    raise exceptions.Duplicate('image %r already exists in '
                                               'store %r' % (image_id,
                                                             self.name))
                if self.fsync:
                    _fsync_dir(datadir)
        finally:
            _unlink_quietly(tmp)
        return self._url_for(image_id, datadir)

    @contextlib.contextmanager
    def _fs_errors(self, action, path, missing=False):
        """Turn an OSError of *action* on *path* into a store_kit error
        naming the store and the path: StorageFull (no space or quota),
        Forbidden (permissions, read-only filesystem), NotFound (when
        *missing* and the file cannot exist), BackendError otherwise."""
        try:
            yield
        except OSError as exc:
            raise self._fs_error(exc, action, path, missing) from exc

    def _fs_error(self, exc, action, path, missing=False):
        """The store_kit error for OSError *exc* (see :meth:`_fs_errors`)."""
        code = exc.errno
        msg = 'store %r: cannot %s %s: %s' % (
            self.name, action, location.printable(path),
            exc.strerror or type(exc).__name__)
        if code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return exceptions.StorageFull(msg)
        if code in (errno.EACCES, errno.EPERM, errno.EROFS):
            return exceptions.Forbidden(msg)
        if missing and code in (errno.ENOENT, errno.ENOTDIR,
                                errno.ENAMETOOLONG):
            return exceptions.NotFound('store %r: image file %s not found (%s)'
                                       % (self.name, location.printable(path),
                                          exc.strerror))
        if code == errno.ELOOP:
            return exceptions.BadStoreUri('%s (a symlink: refused)' % msg)
        if code == errno.EISDIR:
            return exceptions.BadStoreUri(msg)
        return exceptions.BackendError(msg, code=errno.errorcode.get(code))

    # -- read / delete -----------------------------------------------------

    def _open(self, loc):
        path = self._confined_path(loc)
        # O_NOFOLLOW: a file that became a symlink meanwhile is ELOOP.
        with self._fs_errors('read image file', path, missing=True):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            with self._fs_errors('read image file', path):
                mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise exceptions.BadStoreUri('location %s is not a regular '
                                             'file' % loc.url)
        except BaseException:
            os.close(fd)
            raise
        return open(fd, 'rb', buffering=0), path

    def _get(self, loc, offset, length):
        f, path = self._open(loc)
        try:
            with self._fs_errors('read image file', path):
                total = os.fstat(f.fileno()).st_size
                size = driver.range_size(total, offset, length)
                if offset:
                    f.seek(offset)
        except BaseException:
            f.close()
            raise
        return driver.ChunkIterator(self._chunks(f, size, path),
                                    f.close), size

    def _chunks(self, f, size, path):
        with self._fs_errors('read image file', path):
            yield from driver.read_exactly(f.read, size, self.chunk_size,
                                           'file %s' % path)
        f.close()

    def _get_size(self, loc):
        path = self._confined_path(loc)
        with self._fs_errors('stat image file', path, missing=True):
            return os.lstat(path).st_size

    def _delete(self, loc):
        path = self._confined_path(loc)
        with self._fs_errors('delete image file', path, missing=True):
            os.unlink(path)

    # -- inventory (the consistency checker) --------------------------------

    def inventory(self):
        """Every regular file directly in a datadir: image data, or a
        partial ``.<id>.<random>.tmp`` file an interrupted add left."""
        return self._scan(lambda name: True)

    def _scan(self, wanted):
        for (_, path), real in zip(self.datadirs, self.real_datadirs):
            url_head = 'file://' + os.path.join(path, '')
            real_head = os.path.join(real, '')
            try:
                entries = os.scandir(real)
            except OSError as exc:
                raise exceptions.BackendError('store %r: cannot list datadir %s: %s'
                                              % (self.name, path, exc.strerror))
            with entries:
                for entry in entries:
                    name = entry.name
                    if not wanted(name):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue                # removed while we listed
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    tmp = name.startswith('.') and name.endswith('.tmp')
                    image_id = name[1:].rsplit('.', 2)[0] if tmp else name
                    # the URL add() writes (a name that does not round-trip
                    # through a URL is read by no location: an orphan)
                    yield driver.InventoryItem('tmp' if tmp else 'object',
                                               url_head + image_id, st.st_size,
                                               st.st_mtime, real_head + name)

    def unfinished(self):
        """Partial ``.<id>.<random>.tmp`` files (names alone tell them)."""
        for item in self._scan(lambda name: name.startswith('.') and name.endswith('.tmp')):
            yield item

    def find_objects(self, image_id):
        found = []
        for (_, path), real in zip(self.datadirs, self.real_datadirs):
            try:
                st = os.lstat(os.path.join(real, image_id))
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise self._fs_error(exc, 'stat', os.path.join(real, image_id))
            if stat.S_ISREG(st.st_mode):
                found.append(driver.InventoryItem(
                    'object', self._url_for(image_id, path), st.st_size,
                    st.st_mtime, os.path.join(real, image_id)))
        return found

    def sizes(self, urls):
        """One ``lstat`` per URL whose file sits directly in a datadir (the
        common case); anything else goes through :meth:`get_size`."""
        dirs = self._datadir_spellings
        found = {}
        slow = []
        for url in urls:
            path = location.plain_file_path(url)
            if path is None:
                try:
                    segments = location.match_key(url)[1]
                except exceptions.BadStoreUri:
                    segments = None
                if not segments:
                    slow.append(url)
                    continue
                path = '/' + '/'.join(segments)
            parent, _, name = path.rpartition('/')
            if parent not in dirs or not name or name in ('.', '..'):
                slow.append(url)
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                found[url] = None
                continue
            except OSError as exc:
                found[url] = self._fs_error(exc, 'stat', path)
                continue
            if stat.S_ISREG(st.st_mode):
                found[url] = st.st_size
            else:
                found[url] = exceptions.BadStoreUri('location %s is not a regular file'
                                                    % location.redact(url))
        found.update(super().sizes(slow))
        return found

    def remove_leftover(self, item):
        """Unlink the exact file *item* names (a regular file directly in one
        of our real datadirs, never through a symlink)."""
        path = item.ref
        if os.path.dirname(path) not in self.real_datadirs:
            raise exceptions.BadStoreUri('%s is not directly in a datadir of store %r'
                                         % (path, self.name))
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                raise exceptions.BadStoreUri('%s is not a regular file' % path)
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._fs_error(exc, 'remove', path)

    @property
    def _datadir_spellings(self):
        dirs = set()
        for (_, path), real in zip(self.datadirs, self.real_datadirs):
            dirs.add(os.path.normpath(path))
            dirs.add(real)
        return dirs

    def check_reachable(self):
        for path in self.real_datadirs:
            if not os.access(path, os.W_OK | os.X_OK):
                return False, 'datadir %s is not writable' % path
        return True, ''


class _BlockWriter:
    """Writes the reader's blocks to *fd*, with O_DIRECT where possible.

    O_DIRECT needs page-aligned memory and lengths: each whole block is
    copied into one page-aligned mmap buffer and written from there; a
    short (last) block, or a filesystem that refuses O_DIRECT, switches the
    descriptor back to ordinary writes.
    """

    def __init__(self, fd, block_size, direct):
        self.fd = fd
        self.buf = None
        if direct and block_size % _ALIGN == 0 and _set_direct(fd, True):
            self.buf = mmap.mmap(-1, block_size)

    def write(self, data):
        if self.buf is not None:
            if len(data) == len(self.buf):
                self.buf[:] = data
                try:
                    with memoryview(self.buf) as view:
                        _write_all(self.fd, view)
                    return
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    LOG.info('O_DIRECT refused here; writing through the '
                             'page cache')
            self._stop_direct()
        _write_all(self.fd, data)

    def _stop_direct(self):
        _set_direct(self.fd, False)
        self.close()

    def close(self):
        buf, self.buf = self.buf, None
        if buf is not None:
            try:
                buf.close()
            except BufferError:
                pass        # a traceback still holds a view; GC frees it


def _normpath(path):
    """*path* normalised, with one leading '/' (POSIX keeps two)."""
    return '/' + os.path.normpath(path).lstrip('/')


def _name_max(path):
    """The longest file name (bytes) the filesystem of *path* allows."""
    try:
        return os.pathconf(path, 'PC_NAME_MAX')
    except (OSError, ValueError):
        return 255


def _set_direct(fd, on):
    """Turn O_DIRECT on or off for *fd*; False where unsupported."""
    direct = getattr(os, 'O_DIRECT', 0)
    if not direct:
        return False
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL,
                    (flags | direct) if on else (flags & ~direct))
    except OSError:
        return False
    return True


def _write_all(fd, data):
    with memoryview(data) as view:
        while view:
            written = os.write(fd, view)
            view = view[written:]


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        LOG.warning('cannot remove temp file %s: %s',
                    location.printable(path), exc.strerror)
