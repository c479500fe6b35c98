"""Copy commands: ``copy`` (given images into a store) and ``evacuate`` (every
image of a store being retired).  JSON summary: ``{"copied", "skipped",
"failed", "bytes"}`` (+ ``failures``); exit 1 when any image failed."""

import json

from store_kit.cli.base import arg, progress_bar

WORKERS = arg('--workers', type=int, default=1, metavar='N',
              help='images copied at once by this process (default 1)')


def _report(args, report):
    if args.format == 'json':
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for line in report.summary_lines():
            print(line)
    return 1 if report.failed else 0


def _bar():
    bar = progress_bar(None, 'copy', unit='B')
    state = {'images': 0}

    def progress(images, nbytes):
        state['images'] += images
        bar.update(nbytes)
        bar.set_postfix(images=state['images'], refresh=False)
    return bar, progress


def cmd_copy(env, args):
    from store_kit import copy
    bar, progress = _bar()
    with bar:
        report = copy.copy_images(env.catalog(), env.registry, args.image_ids, args.to,
                                  workers=args.workers, progress=progress)
    return _report(args, report)


def cmd_evacuate(env, args):
    from store_kit import copy
    bar, progress = _bar()
    with bar:
        report = copy.evacuate(env.catalog(), env.registry, args.source, args.to,
                               delete_source=args.delete_source, workers=args.workers,
                               dry_run=args.dry_run, progress=progress)
    return _report(args, report)


COMMANDS = [
    ('copy', cmd_copy, 'copy images into another store (hash-verified)', (
        arg('image_ids', nargs='+', metavar='IMAGE_ID'),
        arg('--to', required=True, metavar='STORE', help='the target store'),
        WORKERS)),
    ('evacuate', cmd_evacuate, 'copy every image of a store into another', (
        arg('source', metavar='SOURCE', help='the store being emptied'),
        arg('--to', required=True, metavar='TARGET', help='the target store'),
        arg('--delete-source', action='store_true',
            help='retire each source location (pending_delete, for the scrubber) '
                 'once its copy is recorded'),
        WORKERS,
        arg('--dry-run', action='store_true', help='say what would be copied, write nothing'))),
]
