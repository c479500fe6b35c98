"""Bulk backfill of glance's own database: ``meta_data['store']`` written
into every legacy ``image_locations`` row, with the stores of the same
glance-api.conf.

The same job as :mod:`store_kit.backfill` (keyset pages by id, the
resolver's normalised matching, one transaction per batch, idempotent so an
interrupted run is resumed by running it again), on glance's table: rows
that are ``active`` or ``pending_delete`` (the scrubber needs the store
too) whose ``store`` is missing or names no store glance has enabled.
Rows naming an enabled store are left alone unless ``fix_wrong``: then a
row whose recorded store does not own its URL gets the store that does (as
glance's own GET backfill, with its raw ``startswith``, may have written
``pool1`` for ``pool10``'s files).
"""

import dataclasses
import json

from store_kit import backfill as sk_backfill
from store_kit import exceptions
from store_kit import location as loc_mod


@dataclasses.dataclass
class GlanceBackfillReport(sk_backfill.BackfillReport):
    """:class:`store_kit.backfill.BackfillReport` plus what only glance's
    table has: corrected rows, unreadable metadata, unresolved rows named."""

    corrected: int = 0          # fix_wrong: recorded store did not own the URL
    unreadable: int = 0         # meta_data is not a JSON object: left alone
    #: ``[(image_id, redacted url)]`` of unresolved rows, the first
    #: ``max_listed`` of them
    unresolved_rows: list = dataclasses.field(default_factory=list)
    unresolved_omitted: int = 0
    max_listed: int = 1000

    def note_unresolved(self, image_id, url):
        self.unresolved += 1
        self.unresolved_by_origin[sk_backfill.origin(url)] += 1
        if len(self.unresolved_rows) < self.max_listed:
            self.unresolved_rows.append((image_id, loc_mod.redact(url)))
        else:
            self.unresolved_omitted += 1

    def summary_lines(self, dry_run=False):
        lines = super().summary_lines(dry_run)
        verb = 'would correct' if dry_run else 'corrected'
        if self.corrected:
            lines.insert(1, '%s %d location%s whose recorded store did not own the URL'
                         % (verb, self.corrected, '' if self.corrected == 1 else 's'))
        if self.unreadable:
            lines.insert(1, '%d location%s with unreadable meta_data left alone'
                         % (self.unreadable, '' if self.unreadable == 1 else 's'))
        if self.unresolved_rows:
            lines.append('unresolved locations (image id, URL):')
            shown = self.unresolved_rows[:20]
            lines += ['  %s  %s' % row for row in shown]
            more = self.unresolved - len(shown)
            if more:
                lines.append('  ... and %d more (--format json lists %d)'
                             % (more, len(self.unresolved_rows)))
        return lines

    def as_dict(self, dry_run=False):
        """The ``--format json`` summary (hosts and redacted URLs only)."""
        return {
            'dry_run': dry_run,
            'scanned': self.scanned,
            'already': self.already,
            'resolved': self.resolved,
            'corrected': self.corrected,
            'unresolved': self.unresolved,
            'unreadable': self.unreadable,
            'unresolved_by_origin': {
                '%s://%s' % key: n for key, n in sorted(self.unresolved_by_origin.items())},
            'unresolved_rows': [{'image_id': i, 'url': u} for i, u in self.unresolved_rows],
            'unresolved_rows_omitted': self.unresolved_omitted,
        }


def parse_meta(text):
    """glance's ``meta_data`` text as a dict, or None when it is not a JSON
    object."""
    if text is None or text == '' or text == '{}':
        return {}
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def run(gdb, registry, glance_stores=(), fix_wrong=False, dry_run=False,
        batch_size=10000, progress=None, max_listed=1000, writers=None):
    """Backfill glance database *gdb* (a :class:`GlanceDatabase`) with the
    stores of *registry*; returns a :class:`GlanceBackfillReport`.

    *glance_stores* names every store glance has enabled, those store_kit
    has no driver for included: a row naming one of them is not legacy.
    *progress*, if given, is called as ``progress(n, report)`` after each
    batch of *n* rows.  On server engines batches are written on
    *writers* threads (4 unless given) while the next pages are read; on
    SQLite (one writer) in turn with the reads.
    """
    gdb.check_schema()
    enabled = frozenset(registry.names()) | frozenset(glance_stores)
    report = GlanceBackfillReport(max_listed=max_listed)
    if writers is None:
        writers = 1 if gdb.dialect == 'sqlite' else 4
    # SQLite: a reader waits out every commit (rollback journal) in the
    # busy handler's sleeps, so reading while writing only loses there.
    overlap = gdb.dialect != 'sqlite'
    with sk_backfill.BatchWriter(gdb, writers, overlap=overlap) as writer:
        _scan(gdb, registry, enabled, fix_wrong, dry_run, batch_size, progress,
              report, writer)
    return report


def _scan(gdb, registry, enabled, fix_wrong, dry_run, batch_size, progress, report,
          writer):
    resolve = registry.resolve
    families = frozenset(loc_mod.FAMILIES)
    for page in gdb.scan(batch_size):
        updates = []
        for loc_id, image_id, url, text in page:
            if text is None or text == '' or text == '{}':
                name = None
            else:
                meta = parse_meta(text)
                if meta is None:
                    report.unreadable += 1
                    continue
                name = meta.get('store')
                if isinstance(name, str) and name in enabled:
                    if not fix_wrong:
                        report.already += 1
                        continue
                else:
                    name = None
            owner = None
            if url[:url.find('://')].lower() in families:   # rbd:// ... : nobody's
                try:
                    owner = resolve(url)
                except exceptions.StoreKitError:
                    pass
            if name is not None:
                if owner is None or owner == name:
                    report.already += 1
                else:
                    updates.append((loc_id, owner))
                    report.corrected += 1
            elif owner is None:
                report.note_unresolved(image_id, url)
            else:
                updates.append((loc_id, owner))
                report.resolved += 1
        report.scanned += len(page)
        if updates and not dry_run:
            writer.submit(updates)
        if progress is not None:
            progress(len(page), report)
