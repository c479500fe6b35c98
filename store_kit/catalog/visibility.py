"""Who may see and change an image: one predicate, two compilations.

:func:`rule` states the visibility policy once, against a small backend
interface. :class:`SqlBackend` turns it into a SQL expression for listing;
:class:`PyBackend` evaluates it on one image dict for ``is_image_visible``.
The tests check with hypothesis that the two agree.

Policy (admin callers see everything unless ``admin_as_user``):

* by id (``mode='get'``): own images, public and community images, and shared
  images the caller is a member of (any member status, or ``status`` if given);
* in lists (``mode='list'``): own images, public images, shared images where
  the caller's membership has ``member_status`` ('all' for any); community
  images only when ``visibility='community'`` (or 'all') is asked for.
"""

import sqlalchemy as sa

from store_kit.catalog import models

LIST_VISIBILITIES = ('public', 'private', 'shared', 'community', 'all')


def rule(b, ctx, mode='get', visibility=None, member_status=None,
         admin_as_user=False):
    """Build the visibility predicate with backend ``b``.

    ``member_status`` is None or 'all' for any live membership, or one status.
    """
    statuses = None if member_status in (None, 'all') else member_status
    if ctx.is_admin and not admin_as_user:
        if mode == 'list' and visibility not in (None, 'all'):
            return b.visibility_in(visibility)
        return b.true()
    me = ctx.owner
    owned = b.owner_is(me) if me is not None else b.false()
    member = b.member(me, statuses) if me is not None else b.false()
    shared = b.and_(b.visibility_in('shared'), member)
    if mode == 'get':
        return b.or_(owned, b.visibility_in('public', 'community'), shared)
    if visibility is None:
        return b.or_(owned, b.visibility_in('public'), shared)
    if visibility == 'all':
        return b.or_(owned, b.visibility_in('public', 'community'), shared)
    if visibility in ('public', 'community'):
        return b.visibility_in(visibility)
    if visibility == 'shared':
        return b.and_(b.visibility_in('shared'), b.or_(owned, member))
    return b.and_(b.visibility_in(visibility), owned)  # private


class SqlBackend:
    """Compiles :func:`rule` to a SQLAlchemy boolean over ``images``.

    ``owner`` and ``visibility`` are compared through ``coalesce()`` so that
    planners do not answer the OR from their (unselective) indexes and sort
    the whole result: the listing is then served in sort order by the sort
    key's index and stops after ``limit`` rows.
    """

    images = models.images
    members = models.members
    _owner = sa.func.coalesce(models.images.c.owner, '')
    _visibility = sa.func.coalesce(models.images.c.visibility, '')

    def true(self):
        return sa.true()

    def false(self):
        return sa.false()

    def or_(self, *clauses):
        return sa.or_(*clauses)

    def and_(self, *clauses):
        return sa.and_(*clauses)

    def owner_is(self, owner):
        return self._owner == owner

    def visibility_in(self, *values):
        if len(values) == 1:
            return self._visibility == values[0]
        return self._visibility.in_(values)

    def member(self, member, status):
        m = self.members
        cond = [m.c.image_id == self.images.c.id, m.c.member == member,
                m.c.deleted == sa.false()]
        if status is not None:
            cond.append(m.c.status == status)
        return sa.exists().where(*cond)


class PyBackend:
    """Evaluates :func:`rule` on one image dict.

    Values are thunks so that the membership lookup (a query) only runs when
    the policy needs it. ``member_status_of(image_id, member)`` returns the
    status of the caller's live membership, or None.
    """

    def __init__(self, image, member_status_of):
        self.image = image
        self.member_status_of = member_status_of

    def true(self):
        return lambda: True

    def false(self):
        return lambda: False

    def or_(self, *thunks):
        return lambda: any(t() for t in thunks)

    def and_(self, *thunks):
        return lambda: all(t() for t in thunks)

    def owner_is(self, owner):
        return lambda: self.image.get('owner') == owner

    def visibility_in(self, *values):
        return lambda: self.image.get('visibility') in values

    def member(self, member, status):
        def check():
            found = self.member_status_of(self.image['id'], member)
            return found is not None and (status is None or found == status)
        return check


def sql_predicate(ctx, **kwargs):
    """The visibility rule as a SQL expression over ``images``."""
    return rule(SqlBackend(), ctx, **kwargs)


def is_visible(ctx, image, member_status_of, **kwargs):
    """The visibility rule evaluated on ``image`` (a dict)."""
    return rule(PyBackend(image, member_status_of), ctx, **kwargs)()


def is_mutable(ctx, image):
    """Owner or admin may change an image; read-only contexts never."""
    if getattr(ctx, 'read_only', False):
        return False
    if ctx.is_admin:
        return True
    return ctx.owner is not None and image.get('owner') == ctx.owner
