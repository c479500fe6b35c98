"""``store-kit glance backfill|check|import --config-file glance-api.conf``:
the jobs of ``backfill`` and ``check`` on glance's own database
(``[database] connection``), with the stores of the same file, and the copy
of glance's catalog into a store_kit one."""

import contextlib
import json

from oslo_config import cfg

from store_kit import config as config_mod
from store_kit import exceptions
from store_kit.cli.base import UsageError, arg, progress_bar, safe_db_url
from store_kit.cli.maintenance import emit_check_report

DATABASE_OPTS = [
    cfg.StrOpt('connection', secret=True,
               help='glance\'s database (glance-api.conf [database] '
                    'connection), read by `store-kit glance`.'),
]


@contextlib.contextmanager
def glance_database(env, check_schema=None):
    """glance's database named by the configuration, its schema checked
    (by *check_schema*, else the database's own check), disposed after."""
    from store_kit.glance.database import GlanceDatabase
    env.conf.register_opts(DATABASE_OPTS, group='database')
    gdb = GlanceDatabase(env.conf.database.connection)
    try:
        (check_schema or GlanceDatabase.check_schema)(gdb)
        yield gdb
    finally:
        gdb.dispose()


def cmd_backfill(env, args):
    from store_kit.glance import backfill
    registry = env.registry
    with glance_database(env) as gdb, \
            progress_bar(gdb.count_locations(), 'glance backfill', unit='loc') as bar:
        def progress(n, report):
            bar.update(n)
            bar.set_postfix(resolved=report.resolved, unresolved=report.unresolved,
                            refresh=False)
        report = backfill.run(
            gdb, registry, glance_stores=config_mod.enabled_backends(env.conf),
            fix_wrong=args.fix_wrong, dry_run=args.dry_run, batch_size=args.batch_size,
            progress=progress, max_listed=args.max_listed)
    if args.format == 'json':
        print(json.dumps(report.as_dict(dry_run=args.dry_run), indent=2))
    else:
        for line in report.summary_lines(dry_run=args.dry_run):
            print(line)
    return 0


def cmd_check(env, args):
    from store_kit.glance import check
    registry = env.registry
    with glance_database(env) as gdb, \
            progress_bar(gdb.count_locations(), 'glance check', unit='loc') as bar:
        def progress(n, report):
            bar.update(n)
            bar.set_postfix(findings=len(report.findings), refresh=False)
        report = check.run(gdb, registry, stores=args.store, progress=progress)
    emit_check_report(args, report)
    return 0 if report.clean else 1


def import_target(url, dry_run):
    """The store_kit catalog at *url* (``--to``): an empty database gets the
    schema (not in a dry run), one at an older revision is refused."""
    import sqlalchemy as sa
    from store_kit.catalog import Catalog, schema
    try:
        db = Catalog(url)
    except exceptions.BadStoreConfiguration as exc:
        raise UsageError('--to: %s' % exc.reason) from None
    try:
        try:
            version = db.schema_version()
            if version is None and not dry_run:
                db.create_schema()
                version = db.schema_version()
        except sa.exc.SQLAlchemyError as exc:
            raise exceptions.CatalogUnavailable('catalog %s: %s' % (
                safe_db_url(url), ' '.join(str(getattr(exc, 'orig', exc)).split())[:300])) \
                from None
        if version is not None and version != schema.head_revision():
            raise exceptions.StoreKitError(
                'the catalog at %s is at schema %s, not %s: run `store-kit db sync` on it '
                'first' % (safe_db_url(url), version, schema.head_revision()))
    except BaseException:
        db.dispose()
        raise
    if version is None:         # a dry run into an empty database: an empty
        db.dispose()            # in-memory catalog stands in for it
        db = Catalog('sqlite://')
        db.create_schema()
    return db


def cmd_import(env, args):
    from store_kit.glance import importer
    registry = env.registry
    with glance_database(env, importer.check_schema) as gdb:
        db = import_target(args.to, args.dry_run)
        try:
            with progress_bar(importer.count_images(gdb), 'glance import', unit='img') as bar:
                def progress(n, report):
                    bar.update(n)
                    bar.set_postfix(refused=report.counts['images']['refused'],
                                    unresolved=report.unresolved, refresh=False)
                report = importer.run(
                    gdb, registry, db, glance_stores=config_mod.enabled_backends(env.conf),
                    include_deleted=args.include_deleted, dry_run=args.dry_run,
                    batch_size=args.batch_size, progress=progress, max_listed=args.max_listed)
        finally:
            db.dispose()
    options = {'dry_run': args.dry_run, 'include_deleted': args.include_deleted}
    if args.format == 'json':
        print(json.dumps(report.as_dict(**options), indent=2, default=str))
    else:
        for line in report.summary_lines(**options):
            print(line)
    return 0 if report.complete else 1


GROUPS = [
    ('glance', 'work on a glance database with the stores of its glance-api.conf', [
        ('backfill', cmd_backfill,
         'write the owning store into every legacy image_locations row', (
             arg('--dry-run', action='store_true', help='resolve and report, write nothing'),
             arg('--fix-wrong', action='store_true',
                 help='also correct rows whose recorded store does not own their URL'),
             arg('--batch-size', type=int, default=10000, help='rows per transaction'),
             arg('--max-listed', type=int, default=1000, metavar='N',
                 help='unresolved rows named in the report (default 1000)'))),
        ('check', cmd_check,
         'find glance locations whose data is missing or of the wrong size', (
             arg('--store', action='append', metavar='NAME',
                 help='check only this store (repeatable)'),)),
        ('import', cmd_import,
         'copy glance\'s catalog (images, properties, tags, members, locations) into a '
         'store_kit catalog; glance\'s database is only read', (
             arg('--to', required=True, metavar='CATALOG_URL',
                 help='SQLAlchemy URL of the store_kit catalog (an empty database gets '
                      'the schema)'),
             arg('--dry-run', action='store_true', help='read, check and report; write nothing'),
             arg('--include-deleted', action='store_true',
                 help='also carry soft-deleted rows (deleted images, members, tags, '
                      'properties; deleted and pending_delete locations)'),
             arg('--batch-size', type=int, default=1000, help='images per transaction'),
             arg('--max-listed', type=int, default=1000, metavar='N',
                 help='refused images and duplicate members named in the report'))),
    ]),
]

COMMANDS = []
