"""``store-kit glance import``: a glance catalog copied into a store_kit one.

glance's database (``[database] connection`` of glance-api.conf) is only
read: its schema must be one of :data:`IMPORT_REVISIONS` (glance 2023.1
onward; anything else is refused by name before a row is read).  Images
are read in pages ordered by id, each page with its properties, tags,
members and locations, turned into the catalog's rows and written by
:meth:`store_kit.catalog.Catalog.import_images`, one transaction per page:
ids, owners, visibility, ``os_hidden``, statuses, timestamps, checksum and
multihash, member statuses, location statuses and metadata are kept.  An
image already in the catalog is skipped, so an interrupted run, run again,
continues where it stopped and never duplicates.

glance's quirks, and what is done with them:

* soft-deleted rows (``deleted = true``: images, properties, tags, members;
  locations that are ``deleted`` or ``pending_delete``, which glance marks
  deleted too) are carried only with *include_deleted*, with their flags
  and ``deleted_at`` (a ``pending_delete`` location's ``deleted_at``
  becomes its ``delete_time``, the scrubber's clock);
* glance allows several live member rows for one (image, member) (its
  unique key holds ``deleted_at``, and NULLs are distinct); the catalog
  keeps one record per pair: the live row updated last wins (ties: the
  higher id, the later one), the others are counted and listed.  A live
  row always wins over deleted ones; of deleted rows only (with
  *include_deleted*) the one deleted last is kept;
* glance has no unique key on tags: a repeated tag is kept once (a live row
  before a deleted one, then the first);
* ``meta_data`` is JSON text: an empty value is ``{}``, anything that is not
  a JSON object refuses its image (nothing is guessed);
* ``updated_at`` may be NULL in glance (never through its API): the row's
  ``created_at`` is used and the rows so filled are counted;
* ``meta_data['store']`` is filled in with the resolver when it is missing
  or names no enabled store, and corrected when the store it names does not
  own the URL but another store does (what glance's raw-prefix backfill
  writes); locations no store_kit store owns (rbd, swift ...) keep their
  metadata and are counted per scheme as unresolved.

Values the catalog cannot hold (a property value over 1536 bytes, an
unknown status or visibility, a bad checksum ...) refuse their image with
the reason; nothing is silently changed.
"""

import collections
import dataclasses

import sqlalchemy as sa

from store_kit import backfill as sk_backfill
from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.glance.backfill import parse_meta
from store_kit.glance.database import UnknownGlanceSchema, safe_url

#: glance's alembic revisions the importer reads (2023.1 onward, as of glance
#: 33); during a rolling upgrade the table holds an expand and a contract
#: revision, both must be known.
IMPORT_REVISIONS = frozenset([
    '2023_1_expand01', '2023_1_contract01',
    '2024_1_expand01', '2024_1_contract01',
])
KINDS = ('images', 'properties', 'tags', 'members', 'locations')

_meta = sa.MetaData()
_B, _T, _S = sa.Boolean, sa.DateTime, sa.String
G_IMAGES = sa.Table(
    'images', _meta, sa.Column('id', _S(36), primary_key=True),
    *[sa.Column(c, _S) for c in ('name', 'status', 'visibility', 'owner', 'checksum',
                                 'os_hash_algo', 'os_hash_value', 'disk_format',
                                 'container_format')],
    *[sa.Column(c, sa.BigInteger) for c in ('size', 'virtual_size', 'min_disk', 'min_ram')],
    *[sa.Column(c, _B) for c in ('protected', 'os_hidden', 'deleted')],
    *[sa.Column(c, _T) for c in ('created_at', 'updated_at', 'deleted_at')])


def _child(name, *columns):
    return sa.Table(name, _meta, sa.Column('id', sa.BigInteger, primary_key=True),
                    sa.Column('image_id', _S(36)), *columns,
                    sa.Column('created_at', _T), sa.Column('updated_at', _T),
                    sa.Column('deleted_at', _T), sa.Column('deleted', _B))


G_CHILDREN = {
    'properties': _child('image_properties', sa.Column('name', _S), sa.Column('value', sa.Text)),
    'tags': _child('image_tags', sa.Column('value', _S)),
    'members': _child('image_members', sa.Column('member', _S), sa.Column('can_share', _B),
                      sa.Column('status', _S)),
    'locations': _child('image_locations', sa.Column('value', sa.Text),
                        sa.Column('meta_data', sa.Text), sa.Column('status', _S)),
}
_IMAGE_COLUMNS = tuple(c.name for c in G_IMAGES.columns)


@dataclasses.dataclass
class ImportReport:
    """Counts of one import (``--format json`` prints :meth:`as_dict`)."""

    #: per kind: Counter of imported, skipped, refused
    counts: dict = dataclasses.field(default_factory=lambda: {
        k: collections.Counter(imported=0, skipped=0, refused=0) for k in KINDS})
    already: int = 0                # images already in the catalog: skipped
    deleted: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)    # soft-deleted rows left out, per kind
    merged: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)    # duplicate members / tags folded
    duplicate_members: list = dataclasses.field(default_factory=list)
    resolved: int = 0               # store filled in by the resolver
    corrected: int = 0              # recorded store did not own the URL
    unresolved: int = 0
    unresolved_by_scheme: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)
    filled_updated_at: int = 0
    refused_images: list = dataclasses.field(default_factory=list)   # [(id, reason)]
    listed_omitted: int = 0
    max_listed: int = 1000

    def _list(self, items, entry):
        if len(items) < self.max_listed:
            items.append(entry)
        else:
            self.listed_omitted += 1

    def add(self, result, refused, notes, dups):
        """Count a page: the catalog's *result*, the images *refused* before
        it, and the *notes* and *dups* of the images it wrote."""
        counts = self.counts
        counts['images']['imported'] += len(result.imported)
        counts['images']['skipped'] += len(result.skipped)
        self.already += len(result.skipped)
        for image_id, reason in refused + result.refused:
            counts['images']['refused'] += 1
            self._list(self.refused_images, (image_id, reason))
        for kind in KINDS[1:]:
            counts[kind]['imported'] += result.rows[kind]
            counts[kind]['skipped'] += result.skipped_rows[kind]
            counts[kind]['refused'] += result.refused_rows[kind]
        for image_id in result.imported:
            for key, n in notes[image_id].items():
                what, _, detail = key.partition(':')
                if what in ('deleted', 'merged'):
                    counts[detail]['skipped'] += n
                    (self.deleted if what == 'deleted' else self.merged)[detail] += n
                elif what == 'scheme':
                    self.unresolved_by_scheme[detail] += n
                else:
                    setattr(self, what, getattr(self, what) + n)
            for member, kept, dropped in dups.get(image_id, ()):
                self._list(self.duplicate_members, (image_id, member, kept, dropped))

    @property
    def complete(self):
        """True when no image was refused."""
        return not self.counts['images']['refused']

    def as_dict(self, dry_run=False, include_deleted=False):
        return {
            'dry_run': dry_run,
            'include_deleted': include_deleted,
            **{kind: dict(self.counts[kind]) for kind in KINDS},
            'already_imported': self.already,
            'deleted_left_out': {k: self.deleted[k] for k in KINDS},
            'merged': {'members': self.merged['members'], 'tags': self.merged['tags']},
            'duplicate_members': [
                {'image_id': i, 'member': m, 'kept': kept, 'dropped': dropped}
                for i, m, kept, dropped in self.duplicate_members],
            'stores': {'resolved': self.resolved, 'corrected': self.corrected,
                       'unresolved': self.unresolved,
                       'unresolved_by_scheme': dict(sorted(self.unresolved_by_scheme.items()))},
            'filled_updated_at': self.filled_updated_at,
            'refused_images': [{'image_id': i, 'reason': r} for i, r in self.refused_images],
            'listed_omitted': self.listed_omitted,
        }

    def summary_lines(self, dry_run=False, include_deleted=False):
        verb = 'would import' if dry_run else 'imported'
        lines = []
        for kind in KINDS:
            c = self.counts[kind]
            lines.append('%s %d %s, skipped %d, refused %d'
                         % (verb, c['imported'], kind, c['skipped'], c['refused']))
        if self.already:
            lines.append('%d image%s already in the catalog (skipped)'
                         % (self.already, '' if self.already == 1 else 's'))
        left = {k: n for k, n in self.deleted.items() if n}
        if left:
            lines.append('soft-deleted rows left out (--include-deleted carries them): %s'
                         % ', '.join('%d %s' % (n, k) for k, n in sorted(left.items())))
        for kind in ('members', 'tags'):
            if self.merged[kind]:
                lines.append('%d duplicate %s row%s folded into one'
                             % (self.merged[kind], kind[:-1],
                                '' if self.merged[kind] == 1 else 's'))
        for image_id, member, kept, dropped in self.duplicate_members[:20]:
            lines.append('  image %s member %s: kept row %s, dropped %s'
                         % (image_id, member, kept, ', '.join(map(str, dropped))))
        lines.append('stores: %d filled in, %d corrected, %d unresolved%s' % (
            self.resolved, self.corrected, self.unresolved,
            (' (%s)' % ', '.join('%d %s' % (n, s) for s, n in
                                 sorted(self.unresolved_by_scheme.items())))
            if self.unresolved else ''))
        if self.filled_updated_at:
            lines.append('%d row%s without updated_at given their created_at'
                         % (self.filled_updated_at, '' if self.filled_updated_at == 1 else 's'))
        if self.refused_images:
            lines.append('refused images (id: reason):')
            lines += ['  %s: %s' % entry for entry in self.refused_images[:20]]
            more = self.counts['images']['refused'] - min(20, len(self.refused_images))
            if more:
                lines.append('  ... and %d more (--format json lists up to %d)'
                             % (more, self.max_listed))
        return lines


# -- glance's side --------------------------------------------------------------

def check_schema(gdb):
    """glance's schema revisions, or :class:`UnknownGlanceSchema` naming
    every revision the importer does not read."""
    versions = gdb.check_schema()
    older = [v for v in versions if v not in IMPORT_REVISIONS]
    if older:
        raise UnknownGlanceSchema(
            'glance database %s has schema version %s; store-kit glance import reads '
            'glance 2023.1 onward (%s): upgrade glance\'s database first '
            '(glance-manage db_sync); nothing was read or written'
            % (safe_url(gdb.url), ', '.join(older), ', '.join(sorted(IMPORT_REVISIONS))))
    return versions


def count_images(gdb):
    """Image rows an import visits, soft-deleted ones included (a progress
    total)."""
    query = sa.select(sa.func.count()).select_from(G_IMAGES)
    return gdb._run(lambda conn: conn.execute(query).scalar(), what='image count')


def image_pages(gdb, batch_size, include_deleted=False, after=None):
    """Yield ``(images, children)`` pages: image rows (mappings) ordered by
    id after *after*, and ``{kind: [rows]}`` of every child row of those
    images, deleted ones included, ordered by id.  One short read per page."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise exceptions.Invalid('batch size must be >= 1, got %r' % (batch_size,))
    last = after
    while True:
        query = sa.select(G_IMAGES).order_by(G_IMAGES.c.id).limit(batch_size)
        if last is not None:
            query = query.where(G_IMAGES.c.id > last)

        def fn(conn):
            rows = conn.execute(query).mappings().all()
            ids = [r['id'] for r in rows if include_deleted or not r['deleted']]
            children = {}
            for kind, table in G_CHILDREN.items():
                children[kind] = conn.execute(
                    sa.select(table).where(table.c.image_id.in_(ids)).order_by(table.c.id)
                ).mappings().all() if ids else []
            return rows, children
        rows, children = gdb._run(fn, what='image page')
        if not rows:
            return
        last = rows[-1]['id']
        yield rows, children


# -- turning glance rows into catalog rows ----------------------------------------

class _Translator:
    """glance rows of one page -> the catalog's image dicts, the quirks
    handled as the module doc says.  What was done to each image is noted
    in ``notes[image_id]`` (a Counter; ``dups[image_id]`` lists its folded
    duplicate members), added to the report only if the image is written."""

    def __init__(self, registry, glance_stores, include_deleted):
        self.include_deleted = include_deleted
        self.resolve = registry.resolve
        self.names = frozenset(registry.names())
        self.families = frozenset(loc_mod.FAMILIES)

    def page(self, rows, children, report):
        """``(image dicts, refused [(id, reason)], notes, dups)`` of one page;
        images left out and rows refused here are counted in *report*."""
        by_id = {}
        for row in rows:
            if row['deleted'] and not self.include_deleted:
                report.deleted['images'] += 1
                report.counts['images']['skipped'] += 1
                continue
            by_id[row['id']] = (row, {k: [] for k in G_CHILDREN})
        for kind, kid_rows in children.items():
            for kid in kid_rows:
                entry = by_id.get(kid['image_id'])
                if entry is None:           # matched only by a lax collation
                    report.counts[kind]['refused'] += 1
                    continue
                entry[1][kind].append(kid)
        images, refused = [], []
        self.notes, self.dups = {}, {}
        for image_id, (row, kids) in by_id.items():
            self.note = self.notes[image_id] = collections.Counter()
            try:
                images.append(self._image(row, kids))
            except exceptions.Invalid as exc:
                refused.append((image_id, 'image %s: %s' % (image_id, exc)))
                for kind in G_CHILDREN:
                    report.counts[kind]['refused'] += len(kids[kind])
        return images, refused, self.notes, self.dups

    def _image(self, row, kids):
        image = {c: row[c] for c in _IMAGE_COLUMNS}
        image['updated_at'] = self._updated(row)
        image['properties'] = [self._row(k, name=k['name'], value=k['value'])
                               for k in self._live('properties', kids['properties'])]
        image['tags'] = self._tags(kids['tags'])
        image['members'] = self._members(row['id'], kids['members'])
        image['locations'] = self._locations(kids['locations'])
        return image

    def _updated(self, row):
        if row['updated_at'] is None:
            self.note['filled_updated_at'] += 1
            return row['created_at']
        return row['updated_at']

    def _row(self, kid, **values):
        values.update(created_at=kid['created_at'], updated_at=self._updated(kid),
                      deleted_at=kid['deleted_at'])
        values.setdefault('deleted', bool(kid['deleted']))
        return values

    def _skip(self, kind, n, why='deleted'):
        """*n* rows of *kind* left out (soft-deleted, or folded duplicates)."""
        self.note['%s:%s' % (why, kind)] += n

    def _live(self, kind, kids):
        """*kids* without the soft-deleted ones (counted), unless carried."""
        if self.include_deleted:
            return kids
        live = [k for k in kids if not k['deleted']]
        self._skip(kind, len(kids) - len(live))
        return live

    def _tags(self, kids):
        chosen = {}
        for kid in sorted(self._live('tags', kids), key=lambda k: (bool(k['deleted']), k['id'])):
            if kid['value'] in chosen:
                self._skip('tags', 1, 'merged')
            else:
                chosen[kid['value']] = kid
        return [self._row(k, value=k['value'])
                for k in sorted(chosen.values(), key=lambda k: k['id'])]

    def _members(self, image_id, kids):
        groups = collections.defaultdict(list)
        for kid in self._live('members', kids):
            groups[kid['member']].append(kid)
        chosen = []
        for member, group in groups.items():
            live = [k for k in group if not k['deleted']]
            if live:
                # the member's last decision: the live row updated last
                keep = max(live, key=lambda k: (k['updated_at'] or k['created_at'], k['id']))
            else:
                keep = max(group, key=lambda k: (k['deleted_at'] or k['updated_at']
                                                 or k['created_at'], k['id']))
            twins = sorted(k['id'] for k in live if k is not keep)
            if twins:
                self._skip('members', len(twins), 'merged')
                self.dups.setdefault(image_id, []).append((member, keep['id'], twins))
            # deleted rows beside the record kept: one record per pair
            self._skip('members', sum(1 for k in group if k['deleted'] and k is not keep))
            chosen.append(keep)
        return [self._row(k, member=k['member'], can_share=bool(k['can_share']),
                          status=k['status'])
                for k in sorted(chosen, key=lambda k: k['id'])]

    def _locations(self, kids):
        out = []
        for kid in kids:
            status = kid['status']
            if (kid['deleted'] or status == 'deleted') and not self.include_deleted:
                self._skip('locations', 1)
                continue
            if kid['deleted'] and status == 'active':
                raise exceptions.Invalid('location %s is active but marked deleted'
                                         % (kid['id'],))
            meta = parse_meta(kid['meta_data'])
            if meta is None:
                raise exceptions.Invalid('location %s: meta_data is not a JSON object'
                                         % (kid['id'],))
            if status != 'deleted':
                meta = self._store(kid['value'], meta)
            row = self._row(kid, url=kid['value'], metadata=meta, status=status)
            del row['deleted']          # the catalog's delete_time is deleted_at
            out.append(row)
        return out

    def _store(self, url, meta):
        """*meta* with the store that owns *url*, noted."""
        name = meta.get('store')
        owner = None
        if isinstance(url, str) and url[:url.find('://')].lower() in self.families:
            try:
                owner = self.resolve(url)
            except exceptions.StoreKitError:
                pass
        if owner is not None and owner != name:
            self.note['corrected' if name in self.names else 'resolved'] += 1
            return dict(meta, store=owner)
        if owner is None and name not in self.names:
            self.note['unresolved'] += 1
            self.note['scheme:%s' % (sk_backfill.origin(url)[0]
                                     if isinstance(url, str) else '?')] += 1
        return meta


# -- the job ----------------------------------------------------------------------

def run(gdb, registry, db, glance_stores=(), include_deleted=False, dry_run=False,
        batch_size=1000, progress=None, max_listed=1000):
    """Import glance database *gdb* (a :class:`GlanceDatabase`) into
    catalog *db* with the stores of *registry*; returns an
    :class:`ImportReport`.

    *glance_stores* names every store glance has enabled (those store_kit
    has no driver for included).  *progress*, if given, is called as
    ``progress(n, report)`` after each page of *n* glance images.
    """
    check_schema(gdb)
    report = ImportReport(max_listed=max_listed)
    translate = _Translator(registry, glance_stores, include_deleted)
    for rows, children in image_pages(gdb, batch_size, include_deleted):
        images, refused, notes, dups = translate.page(rows, children, report)
        result = db.import_images(images, dry_run=dry_run)
        report.add(result, refused, notes, dups)
        if progress is not None:
            progress(len(rows), report)
    return report
