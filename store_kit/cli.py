"""``store-kit``: the operator's command.

An argparse front end over oslo.config.  With no ``--config-file`` or
``--config-dir`` and no ``store-kit.conf`` in the usual places it runs on the
*embedded default*: one file store ``local`` and a SQLite catalog under
``$STORE_KIT_HOME`` (default ``$XDG_DATA_HOME/store-kit``, i.e.
``~/.local/share/store-kit``), created on first use.

Exit status: 0 done, 1 the operation failed, 2 bad usage or configuration.
Errors are one line on stderr (a traceback only with ``--debug``); no output
ever carries a secret.
"""

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time
import traceback

from oslo_config import cfg

import store_kit
from store_kit import config as config_mod
from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit import ops_config
from store_kit.context import RequestContext

PROG = 'store-kit'
EMBEDDED_STORE = 'local'


class UsageError(Exception):
    """Bad arguments or configuration: exit status 2."""


# -- configuration ----------------------------------------------------------

def store_kit_home():
    """The embedded default's data directory."""
    home = os.environ.get('STORE_KIT_HOME')
    if home:
        return os.path.abspath(os.path.expanduser(home))
    data = os.environ.get('XDG_DATA_HOME') or os.path.join(
        os.path.expanduser('~'), '.local', 'share')
    return os.path.join(data, 'store-kit')


class Env:
    """What a command needs, built lazily: config, stores, catalog, context."""

    def __init__(self, args):
        self.args = args
        self.embedded = None
        self.conf = self._load_conf()
        self._registry = self._db = None

    def _load_conf(self):
        args = self.args
        conf = cfg.ConfigOpts()
        store_kit.register_opts(conf)
        ops_config.register_opts(conf)
        cli = []
        for path in args.config_file or []:
            cli += ['--config-file', path]
        for path in args.config_dir or []:
            cli += ['--config-dir', path]
        files = dirs = []
        if not cli:
            files = cfg.find_config_files(project=PROG)
            dirs = cfg.find_config_dirs(project=PROG)
        conf(cli, project=PROG, prog=PROG, default_config_files=files,
             default_config_dirs=dirs, use_env=False)
        if not cli and not files and not dirs:
            self.embedded = self._embedded_default(conf)
        return conf

    @staticmethod
    def _embedded_default(conf):
        """Point *conf* at one file store and a SQLite catalog in the home."""
        from store_kit.drivers.file import FileStore
        home = store_kit_home()
        images = os.path.join(home, 'images')
        created = not os.path.isdir(images)
        os.makedirs(images, mode=0o750, exist_ok=True)
        conf.set_override('enabled_backends', {EMBEDDED_STORE: 'file'})
        conf.set_override('default_backend', EMBEDDED_STORE, group='store_kit')
        config_mod.register_store_opts(conf, EMBEDDED_STORE, FileStore)
        conf.set_override('filesystem_store_datadir', images, group=EMBEDDED_STORE)
        conf.set_override('description', 'embedded default', group=EMBEDDED_STORE)
        conf.set_override('connection', 'sqlite:///%s'
                          % os.path.join(home, 'catalog.db'), group='catalog')
        if created:
            print('%s: no config file found; created the embedded default in %s '
                  '(file store %r, SQLite catalog)' % (PROG, home, EMBEDDED_STORE),
                  file=sys.stderr)
        return home

    @property
    def registry(self):
        if self._registry is None:
            self._registry = store_kit.create_stores(self.conf)
        return self._registry

    def catalog(self, migrate=None, require_schema=True, resolver=True):
        """The catalog; its schema is created automatically on the embedded
        default, elsewhere by `store-kit db sync` only.  With *resolver* it
        backfills the locations it reads (which needs the stores)."""
        if self._db is None:
            from store_kit.catalog import Catalog
            url = self.conf.catalog.connection
            if not url:
                raise exceptions.BadStoreConfiguration(
                    'catalog', 'connection', 'not set; give the SQLAlchemy URL of '
                    'the catalog, e.g. sqlite:////var/lib/store-kit/catalog.db')
            db = Catalog(url, resolver=self.registry if resolver else None)
            if migrate is None:
                migrate = self.embedded is not None
            if migrate:
                db.create_schema()
            elif require_schema and db.schema_version() is None:
                raise exceptions.StoreKitError(
                    'the catalog at %s has no schema yet: run `store-kit db sync`'
                    % safe_db_url(url))
            self._db = db
        return self._db

    def service(self):
        from store_kit.images import ImageService
        return ImageService.from_conf(self.conf, self.catalog(), self.registry)

    @property
    def ctx(self):
        return RequestContext(project_id=self.args.project, is_admin=self.args.admin)

    def close(self):
        if self._db is not None:
            self._db.dispose()
        if self._registry is not None:
            self._registry.close()


def safe_db_url(url):
    """A database URL with its password hidden."""
    import sqlalchemy as sa
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 -- unparseable: show nothing of it
        return '(unparseable URL)'


# -- output -------------------------------------------------------------------

def _cell(value):
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (list, tuple)):
        return ' '.join(_cell(v) for v in value) or '-'
    if isinstance(value, dict):
        return ', '.join('%s=%s' % kv for kv in sorted(value.items())) or '-'
    return str(value)


def emit_rows(args, rows, columns):
    """A listing: aligned table, or JSON list with ``--format json``."""
    if args.format == 'json':
        print(json.dumps([{c: r.get(c) for c in columns} for r in rows],
                         indent=2, default=str))
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells])
              for i, c in enumerate(columns)]
    for row in [list(columns)] + cells:
        print('  '.join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def emit_object(args, obj):
    """One object: ``key  value`` lines, or a JSON object."""
    if args.format == 'json':
        print(json.dumps(obj, indent=2, default=str))
        return
    width = max(len(k) for k in obj)
    for key, value in obj.items():
        print('%s  %s' % (key.ljust(width), _cell(value)))


def image_view(image):
    """An image for display: locations redacted to url and store."""
    view = {k: image.get(k) for k in (
        'id', 'name', 'status', 'size', 'checksum', 'os_hash_algo', 'owner',
        'visibility', 'protected', 'disk_format', 'container_format',
        'created_at', 'updated_at', 'properties', 'tags')}
    view['locations'] = ['%s (%s)' % (loc_mod.redact(loc['url']),
                                      loc['metadata'].get('store', 'no store'))
                         for loc in image.get('locations') or []]
    return view


def progress_bar(total=None, desc=None, unit='B'):
    """A tqdm bar on stderr when it is a terminal, else a silent stand-in."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == 'B',
                disable=not sys.stderr.isatty(), file=sys.stderr, leave=False)


class _ProgressReader:
    """A file wrapper advancing a progress bar as it is read."""

    def __init__(self, f, bar):
        self._f, self._bar = f, bar

    def read(self, n=-1):
        block = self._f.read(n)
        self._bar.update(len(block))
        return block


# -- commands -----------------------------------------------------------------

def cmd_stores(env, args):
    registry = env.registry
    reachable = registry.check_reachable()
    rows = []
    for name in registry.names():
        store = registry[name]
        ok, why = reachable[name]
        rows.append({'name': name, 'driver': store.driver_name,
                     'url_prefixes': [loc_mod.redact(p) for p in store.url_prefixes],
                     'default': name == registry.default.name,
                     'read_only': store.read_only,
                     'reachable': 'yes' if ok else 'no: %s' % why})
    emit_rows(args, rows, ['name', 'driver', 'url_prefixes', 'default', 'read_only',
                           'reachable'])


def cmd_resolve(env, args):
    rows = []
    for url in args.urls:
        try:
            name = env.registry.resolve(url)
        except exceptions.StoreKitError:
            name = None
        rows.append({'url': loc_mod.redact(url), 'store': name})
    if args.format == 'json':
        emit_rows(args, rows, ('url', 'store'))
    else:
        for row in rows:
            print('%s -> %s' % (row['url'], row['store'] or '(none)'))
    return 1 if any(r['store'] is None for r in rows) else 0


def _properties(pairs):
    props = {}
    for pair in pairs or []:
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise UsageError('--property wants KEY=VALUE, got %r' % pair)
        props[key] = value
    return props


def cmd_image_upload(env, args):
    values = {'name': args.name or os.path.basename(args.file),
              'visibility': args.visibility, 'disk_format': args.disk_format,
              'container_format': args.container_format}
    values = {k: v for k, v in values.items() if v is not None}
    props = _properties(args.property)
    if props:
        values['properties'] = props
    if args.protected:
        values['protected'] = True
    try:
        f = open(args.file, 'rb')
    except OSError as exc:
        raise exceptions.StoreKitError('cannot read %s: %s' % (args.file, exc.strerror))
    with f, progress_bar(os.fstat(f.fileno()).st_size, 'upload') as bar:
        image = env.service().upload(env.ctx, _ProgressReader(f, bar),
                                     size=os.fstat(f.fileno()).st_size,
                                     store=args.store, **values)
    emit_object(args, image_view(image))


def cmd_image_list(env, args):
    filters = {}
    if args.status:
        filters['status'] = args.status
    images = env.catalog().image_get_all(env.ctx, filters=filters,
                                         member_status=args.member_status)
    emit_rows(args, images, ['id', 'name', 'status', 'size', 'owner', 'visibility'])


def cmd_image_show(env, args):
    emit_object(args, image_view(env.catalog().image_get(env.ctx, args.image_id)))


def cmd_image_download(env, args):
    chunks = env.service().download(env.ctx, args.image_id)
    if args.output == '-':
        with chunks:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
        return 0
    target = os.path.abspath(args.output)
    fd, part = tempfile.mkstemp(dir=os.path.dirname(target),
                                prefix='.%s.' % os.path.basename(target), suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as out, chunks, progress_bar(chunks.size, 'download') as bar:
            for chunk in chunks:
                out.write(chunk)
                bar.update(len(chunk))
        os.replace(part, target)
    except BaseException:
        os.unlink(part)
        raise
    print('%s: %d bytes from store %s, size and checksums verified'
          % (args.output, chunks.size, chunks.store))


def cmd_image_delete(env, args):
    svc = env.service()
    if args.delayed:
        svc.delayed_delete = True
    image = svc.delete(env.ctx, args.image_id)
    print('image %s is %s' % (image['id'], image['status']))


def cmd_image_restore(env, args):
    image = env.service().restore(env.ctx, args.image_id)
    print('image %s is %s again' % (image['id'], image['status']))


def cmd_location_add(env, args):
    image = env.service().add_location(env.ctx, args.image_id, args.url)
    emit_object(args, image_view(image))


def cmd_location_delete(env, args):
    image = env.service().remove_location(env.ctx, args.image_id, args.location_id)
    emit_object(args, image_view(image))


MEMBER_COLUMNS = ['image_id', 'member', 'status', 'can_share', 'updated_at']


def _member(env, image_id, member):
    found = env.catalog().image_member_find(env.ctx, image_id=image_id, member=member)
    if not found:
        raise exceptions.MemberNotFound('image %s has no member %s' % (image_id, member))
    return found[0]


def cmd_member_add(env, args):
    record = env.catalog().image_member_create(env.ctx, {
        'image_id': args.image_id, 'member': args.member, 'can_share': args.can_share})
    emit_rows(args, [record], MEMBER_COLUMNS)


def cmd_member_list(env, args):
    emit_rows(args, env.catalog().image_member_find(env.ctx, image_id=args.image_id),
              MEMBER_COLUMNS)


def cmd_member_update(env, args):
    record = _member(env, args.image_id, args.member)
    record = env.catalog().image_member_update(env.ctx, record['id'],
                                               {'status': args.status})
    emit_rows(args, [record], MEMBER_COLUMNS)


def cmd_member_delete(env, args):
    record = _member(env, args.image_id, args.member)
    env.catalog().image_member_delete(env.ctx, record['id'])
    print('member %s removed from image %s' % (args.member, args.image_id))


def cmd_dependency_set(env, args):
    env.catalog().set_hard_dependencies(env.ctx, args.image_id, args.targets)
    print('image %s depends on %s' % (args.image_id, ', '.join(args.targets)))


def cmd_dependency_list(env, args):
    db = env.catalog()
    rows = [{'relation': 'depends on', 'image_id': i}
            for i in db.get_hard_dependencies(env.ctx, args.image_id)]
    rows += [{'relation': 'needed by', 'image_id': i}
             for i in db.get_hard_dependencies_children(env.ctx, args.image_id)]
    emit_rows(args, rows, ['relation', 'image_id'])


def cmd_dependency_delete(env, args):
    env.catalog().delete_hard_dependencies(env.ctx, args.image_id, args.target)
    print('image %s no longer depends on %s' % (args.image_id, args.target))


def cmd_backfill(env, args):
    from store_kit import backfill as backfill_mod
    db, registry = env.catalog(), env.registry
    total = backfill_mod.count_live_locations(db)
    with progress_bar(total, 'backfill', unit='loc') as bar:
        def progress(n, report):
            bar.update(n)
            bar.set_postfix(resolved=report.resolved, unresolved=report.unresolved,
                            refresh=False)
        report = backfill_mod.run(db, registry, batch_size=args.batch_size,
                                  dry_run=args.dry_run, progress=progress)
    for line in report.summary_lines(dry_run=args.dry_run):
        print(line)


def cmd_scrub(env, args):
    from store_kit.scrubber import Scrubber
    db = env.catalog()
    scrubber = Scrubber.from_conf(env.conf, db, env.registry)
    if args.restore:        # an operator's command: acts as admin, like the scrubber
        admin = RequestContext(project_id=args.project, is_admin=True)
        image = scrubber.restore(admin, args.restore)
        print('image %s is %s again' % (image['id'], image['status']))
        return 0

    def one_pass():
        with progress_bar(None, 'scrub', unit='loc') as bar:
            count = scrubber.run_once(progress=lambda done, failed: bar.update(1))
        print('scrubbed %d location%s' % (count, '' if count == 1 else 's'), flush=True)
    if not args.daemon:
        one_pass()
        return 0
    wakeup = args.wakeup_time or env.conf.scrubber.wakeup_time
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping:
        try:
            one_pass()
        except exceptions.StoreKitError as exc:     # keep the daemon alive
            print('%s: scrub pass failed, retrying in %ds: %s'
                  % (PROG, wakeup, _one_line(exc)), file=sys.stderr, flush=True)
        end = time.monotonic() + wakeup
        while not stopping and time.monotonic() < end:
            time.sleep(min(0.5, end - time.monotonic()))
    return 0


def cmd_db_sync(env, args):
    db = env.catalog(migrate=True, resolver=False)
    print('catalog %s at schema %s' % (safe_db_url(db.url), db.schema_version()))


def cmd_db_version(env, args):
    from store_kit.catalog import schema
    db = env.catalog(require_schema=False, resolver=False)
    print('catalog %s: schema %s (newest %s)' % (
        safe_db_url(db.url), db.schema_version() or 'none', schema.head_revision()))


def cmd_demo(env, args):
    from store_kit import demo
    return demo.run(env)


# -- parser -------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError('%s: %s (see `%s --help`)' % (self.prog, message, self.prog))


def _global_options(parser, suppress):
    default = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group('global options')
    g.add_argument('--config-file', action='append', default=default(None),
                   metavar='PATH', help='config file (repeatable)')
    g.add_argument('--config-dir', action='append', default=default(None),
                   metavar='DIR', help='directory of *.conf files (repeatable)')
    g.add_argument('--project', default=default(os.environ.get(
        'STORE_KIT_PROJECT', 'default')), help='project of the request context '
        '(default $STORE_KIT_PROJECT or "default")')
    g.add_argument('--admin', action='store_true', default=default(False),
                   help='act as an admin (visibility rules lifted)')
    g.add_argument('--format', choices=('table', 'json'), default=default('table'),
                   help='output format of listings')
    g.add_argument('--debug', action='store_true', default=default(False),
                   help='show tracebacks')


def arg(*names, **kwargs):
    return names, kwargs


IMAGE = arg('image_id', metavar='IMAGE_ID')
#: (name, function, help, [argument]) of every command but ``db``.
COMMANDS = [
    ('stores', cmd_stores, 'list the enabled stores', ()),
    ('resolve', cmd_resolve, 'name the store owning each location URL',
     (arg('urls', nargs='+', metavar='URL'),)),
    ('image-upload', cmd_image_upload, 'upload a file as a new image', (
        arg('file', metavar='FILE'), arg('--name'), arg('--store'),
        arg('--visibility', choices=('private', 'shared', 'public', 'community')),
        arg('--disk-format'), arg('--container-format'),
        arg('--property', action='append', metavar='KEY=VALUE'),
        arg('--protected', action='store_true'))),
    ('image-list', cmd_image_list, 'list the images you can see',
     (arg('--status'), arg('--member-status', default='accepted',
                           choices=('pending', 'accepted', 'rejected', 'all'),
                           help='shared images listed by membership status'))),
    ('image-show', cmd_image_show, 'show one image', (IMAGE,)),
    ('image-download', cmd_image_download, 'download (and verify) an image',
     (IMAGE, arg('-o', '--output', required=True, metavar='FILE',
                 help='where to write it ("-" for stdout)'))),
    ('image-delete', cmd_image_delete, 'delete an image', (
        IMAGE, arg('--delayed', action='store_true',
                   help='leave the data to the scrubber even if delayed_delete is off'))),
    ('image-restore', cmd_image_restore, 'bring a pending_delete image back', (IMAGE,)),
    ('location-add', cmd_location_add, 'add an existing copy (URL) to an image',
     (IMAGE, arg('url', metavar='URL'))),
    ('location-delete', cmd_location_delete, 'remove one location of an image',
     (IMAGE, arg('location_id', type=int, metavar='LOCATION_ID'))),
    ('member-add', cmd_member_add, 'share an image with a project',
     (IMAGE, arg('member', metavar='MEMBER'), arg('--can-share', action='store_true'))),
    ('member-list', cmd_member_list, 'list the members of an image', (IMAGE,)),
    ('member-update', cmd_member_update, 'accept or reject a shared image (as member)',
     (IMAGE, arg('member', metavar='MEMBER'),
      arg('status', choices=('pending', 'accepted', 'rejected')))),
    ('member-delete', cmd_member_delete, 'stop sharing an image with a project',
     (IMAGE, arg('member', metavar='MEMBER'))),
    ('dependency-set', cmd_dependency_set, 'IMAGE_ID depends on each TARGET',
     (IMAGE, arg('targets', nargs='+', metavar='TARGET'))),
    ('dependency-list', cmd_dependency_list, 'what an image depends on and what needs it',
     (IMAGE,)),
    ('dependency-delete', cmd_dependency_delete, 'remove one dependency',
     (IMAGE, arg('target', metavar='TARGET'))),
    ('backfill', cmd_backfill, 'write the owning store into every legacy location', (
        arg('--dry-run', action='store_true', help='resolve and report, write nothing'),
        arg('--batch-size', type=int, default=10000, help='locations per transaction'))),
    ('scrub', cmd_scrub, 'delete the data of pending_delete locations', (
        arg('--daemon', action='store_true', help='keep running, one pass per wakeup'),
        arg('--wakeup-time', type=int, metavar='SECONDS',
            help='seconds between passes (default [scrubber] wakeup_time)'),
        arg('--restore', metavar='IMAGE_ID', help='restore this image instead'))),
    ('demo', cmd_demo, 'a one-minute tour on the embedded default', ()),
]


def build_parser():
    parser = _Parser(prog=PROG, description='Operate store_kit stores and catalog.')
    _global_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    sub.required = True
    for name, fn, help_, arguments in COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        for names, kwargs in arguments:
            p.add_argument(*names, **kwargs)
        p.set_defaults(func=fn)
    db = sub.add_parser('db', help='catalog schema', parents=[common])
    dbsub = db.add_subparsers(dest='db_command', metavar='{sync,version}',
                              parser_class=_Parser)
    dbsub.required = True
    dbsub.add_parser('sync', help='create or upgrade the catalog schema',
                     parents=[common]).set_defaults(func=cmd_db_sync)
    dbsub.add_parser('version', help='show the catalog schema version',
                     parents=[common]).set_defaults(func=cmd_db_version)
    return parser


# -- main ---------------------------------------------------------------------

def _fail(args, message, status):
    if getattr(args, 'debug', False) or '--debug' in sys.argv:
        traceback.print_exc()
    print('%s: error: %s' % (PROG, message), file=sys.stderr)
    return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = None
    env = None
    try:
        args = build_parser().parse_args(argv)
        env = Env(args)
        status = args.func(env, args)
        return status or 0
    except UsageError as exc:
        return _fail(args, str(exc), 2)
    except exceptions.BadStoreConfiguration as exc:
        return _fail(args, 'configuration: %s' % exc, 2)
    except cfg.ConfigFileParseError as exc:
        # oslo quotes the offending line, which may hold a secret
        line = re.search(r':(\d+),', exc.msg or '')
        return _fail(args, 'configuration: cannot parse %s%s (expected '
                     '"option = value"; the line is not shown, it may hold a '
                     'secret)' % (exc.config_file,
                                  ' at line %s' % line.group(1) if line else ''),
                     2)
    except cfg.Error as exc:
        return _fail(args, 'configuration: %s' % _one_line(exc), 2)
    except exceptions.StoreKitError as exc:
        return _fail(args, _one_line(exc), 1)
    except _sqlalchemy_error() as exc:
        url = env.conf.catalog.connection if env is not None else None
        return _fail(args, 'catalog database %s failed: %s' % (
            safe_db_url(url) if url else '', _one_line(getattr(exc, 'orig', exc))), 1)
    except BrokenPipeError:
        # the reader went away (`store-kit image-list | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        return _fail(args, _one_line(exc), 1)
    except KeyboardInterrupt:
        return _fail(args, 'interrupted', 130)
    finally:
        if env is not None:
            env.close()


def _sqlalchemy_error():
    """SQLAlchemyError if SQLAlchemy is loaded (errors not yet translated,
    e.g. connecting), else a class nothing raises."""
    sa_exc = sys.modules.get('sqlalchemy.exc')
    return sa_exc.SQLAlchemyError if sa_exc is not None else _Never


class _Never(Exception):
    pass


def _one_line(exc):
    text = ' '.join(str(exc).split()) or type(exc).__name__
    return loc_mod.redact_text(text)


if __name__ == '__main__':
    sys.exit(main())
