"""What every store-kit command shares: configuration (the embedded
default included), the request context, output formats, progress bars.

With no ``--config-file`` or ``--config-dir`` and no ``store-kit.conf`` in
the usual places the command runs on the *embedded default*: one file store
``local`` and a SQLite catalog under ``$STORE_KIT_HOME`` (default
``$XDG_DATA_HOME/store-kit``, i.e. ``~/.local/share/store-kit``), created on
first use.
"""

import json
import os
import sys

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
        # Every option store_kit defines, read now: a bad value is one
        # line naming section and option, whichever command runs.
        config_mod.check_fixed_groups(conf)
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


class ProgressReader:
    """A file wrapper advancing a progress bar as it is read."""

    def __init__(self, f, bar):
        self._f, self._bar = f, bar

    def read(self, n=-1):
        block = self._f.read(n)
        self._bar.update(len(block))
        return block


def one_line(exc):
    """*exc* as one line of text, URL credentials and queries removed."""
    text = ' '.join(str(exc).split()) or type(exc).__name__
    return loc_mod.redact_text(text)


def arg(*names, **kwargs):
    """One argparse argument of a command table: ``(names, kwargs)``."""
    return names, kwargs


IMAGE = arg('image_id', metavar='IMAGE_ID')
