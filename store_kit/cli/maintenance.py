"""Maintenance commands: backfill, scrub, db sync|version, demo."""

import json
import signal
import sys
import time

from store_kit import exceptions
from store_kit.cli.base import (PROG, arg, emit_rows, one_line, progress_bar,
                                safe_db_url)
from store_kit.context import RequestContext


def cmd_backfill(env, args):
    from store_kit import backfill as backfill_mod
    db, registry = env.catalog(), env.registry
    total = db.count_live_locations()
    with progress_bar(total, 'backfill', unit='loc') as bar:
        def progress(n, report):
            bar.update(n)
            bar.set_postfix(resolved=report.resolved, unresolved=report.unresolved,
                            refresh=False)
        report = backfill_mod.run(db, registry, batch_size=args.batch_size,
                                  dry_run=args.dry_run, progress=progress)
    for line in report.summary_lines(dry_run=args.dry_run):
        print(line)


def emit_check_report(args, report):
    """A check report (``store-kit check``, ``store-kit glance check``):
    the findings as a table then the summary, or ``--format json``."""
    if args.format == 'json':
        print(json.dumps(report.as_dict(), indent=2, default=str))
        return
    columns = ['kind', 'store', 'image_id', 'url', 'detail']
    if getattr(args, 'repair', False):
        columns.append('repaired')
    if report.findings:
        emit_rows(args, [dict(f.as_dict(), repaired=f.repaired)
                         for f in report.findings], columns)
    for line in report.summary_lines():
        print(line)


def cmd_check(env, args):
    from store_kit import check
    db, registry = env.catalog(), env.registry
    with progress_bar(db.count_live_locations(), 'check', unit='loc') as bar:
        def progress(n, report):
            bar.update(n)
            bar.set_postfix(listed=report.listed, findings=len(report.findings),
                            refresh=False)
        report = check.run(db, registry, repair=args.repair, grace=args.grace,
                           stores=args.store, progress=progress)
    emit_check_report(args, report)
    return 0 if report.clean else 1


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
                  % (PROG, wakeup, one_line(exc)), file=sys.stderr, flush=True)
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


COMMANDS = [
    ('backfill', cmd_backfill, 'write the owning store into every legacy location', (
        arg('--dry-run', action='store_true', help='resolve and report, write nothing'),
        arg('--batch-size', type=int, default=10000, help='locations per transaction'))),
    ('check', cmd_check, 'compare the catalog with the stores (no data read)', (
        arg('--repair', action='store_true',
            help='retire locations whose data is missing or wrong, kill stale uploads, '
                 'remove orphans older than the grace period'),
        arg('--grace', type=float, default=86400, metavar='SECONDS',
            help='leave alone what changed more recently (uploads in progress); '
                 'default one day'),
        arg('--store', action='append', metavar='NAME',
            help='check only this store (repeatable)'))),
    ('scrub', cmd_scrub, 'delete the data of pending_delete locations', (
        arg('--daemon', action='store_true', help='keep running, one pass per wakeup'),
        arg('--wakeup-time', type=int, metavar='SECONDS',
            help='seconds between passes (default [scrubber] wakeup_time)'),
        arg('--restore', metavar='IMAGE_ID', help='restore this image instead'))),
    ('demo', cmd_demo, 'a one-minute tour on the embedded default', ()),
]

#: Commands with sub-commands: ``store-kit db sync``.
GROUPS = [
    ('db', 'catalog schema', [
        ('sync', cmd_db_sync, 'create or upgrade the catalog schema', ()),
        ('version', cmd_db_version, 'show the catalog schema version', ()),
    ]),
]
