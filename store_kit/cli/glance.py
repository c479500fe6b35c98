"""``store-kit glance backfill|check --config-file glance-api.conf``: the
jobs of ``backfill`` and ``check`` on glance's own database (``[database]
connection``), with the stores of the same file."""

import json

from oslo_config import cfg

from store_kit import config as config_mod
from store_kit.cli.base import arg, progress_bar
from store_kit.cli.maintenance import emit_check_report

DATABASE_OPTS = [
    cfg.StrOpt('connection', secret=True,
               help='glance\'s database (glance-api.conf [database] '
                    'connection), read by `store-kit glance`.'),
]


def glance_database(env):
    """glance's database named by the configuration, its schema checked."""
    from store_kit.glance.database import GlanceDatabase
    env.conf.register_opts(DATABASE_OPTS, group='database')
    return GlanceDatabase(env.conf.database.connection)


def cmd_backfill(env, args):
    from store_kit.glance import backfill
    registry = env.registry
    gdb = glance_database(env)
    try:
        gdb.check_schema()
        with progress_bar(gdb.count_locations(), 'glance backfill', unit='loc') as bar:
            def progress(n, report):
                bar.update(n)
                bar.set_postfix(resolved=report.resolved, unresolved=report.unresolved,
                                refresh=False)
            report = backfill.run(
                gdb, registry, glance_stores=config_mod.enabled_backends(env.conf),
                fix_wrong=args.fix_wrong, dry_run=args.dry_run, batch_size=args.batch_size,
                progress=progress, max_listed=args.max_listed)
    finally:
        gdb.dispose()
    if args.format == 'json':
        print(json.dumps(report.as_dict(dry_run=args.dry_run), indent=2))
    else:
        for line in report.summary_lines(dry_run=args.dry_run):
            print(line)
    return 0


def cmd_check(env, args):
    from store_kit.glance import check
    registry = env.registry
    gdb = glance_database(env)
    try:
        gdb.check_schema()
        with progress_bar(gdb.count_locations(), 'glance check', unit='loc') as bar:
            def progress(n, report):
                bar.update(n)
                bar.set_postfix(findings=len(report.findings), refresh=False)
            report = check.run(gdb, registry, stores=args.store, progress=progress)
    finally:
        gdb.dispose()
    emit_check_report(args, report)
    return 0 if report.clean else 1


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
    ]),
]

COMMANDS = []
