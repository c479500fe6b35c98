"""Image members: one record per (image, member), revived on re-adding.

Only the image owner (or an admin) adds and removes members, and only on
shared images; only the member itself (or an admin) sets its status.
Duplicate creation is decided by the unique key, not by check-then-act: a
concurrent loser's insert fails, the transaction is re-run, and the re-run
finds the winner's live row and reports Duplicate.
"""

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import models, values as checks
from store_kit.catalog.rows import check_keys, choice, member_dict, utcnow

members = models.members
images = models.images


def _member_status(value):
    return choice('member status', value, models.MEMBER_STATUSES)


def _member_id(value):
    return checks.integer('member record id', value, 1, checks.INTEGER[1])


class MembersMixin:
    """Member methods of :class:`store_kit.catalog.Catalog`."""

    def _owned_shared_image(self, conn, ctx, image_id, action):
        image = self._image_row(conn, ctx, image_id, live=True)
        self._require_mutable(ctx, image, action)
        if image['visibility'] != 'shared':
            raise exceptions.Forbidden('image %s is %s: only shared images have members'
                                       % (image_id, image['visibility']))
        return image

    def image_member_create(self, ctx, values):
        """Add ``values['member']`` to image ``values['image_id']``; returns the record.

        A deleted record for the pair is revived (same id, fresh timestamps);
        a live one gives Duplicate.
        """
        checks.caller(ctx)
        values = checks.mapping('member', values)
        check_keys('member', values, {'image_id', 'member', 'can_share', 'status'})
        image_id = checks.image_id(values.get('image_id'))
        member = checks.text('member', values.get('member'), max_length=255, empty=False)
        status = _member_status(values.get('status', 'pending'))
        can_share = bool(values.get('can_share', False))

        def fn(conn):
            image = self._owned_shared_image(conn, ctx, image_id, 'add members to')
            old = conn.execute(sa.select(members).where(
                members.c.image_id == image['id'], members.c.member == member)
                .with_for_update()).first()
            now = utcnow()
            fresh = {'can_share': can_share, 'status': status, 'created_at': now,
                     'updated_at': now, 'deleted': False, 'deleted_at': None}
            if old is None:
                conn.execute(members.insert().values(image_id=image['id'], member=member,
                                                     **fresh))
            elif old.deleted:
                conn.execute(members.update().where(members.c.id == old.id).values(fresh))
            else:
                raise exceptions.Duplicate('member %s of image %s already exists'
                                           % (member, image_id))
            return member_dict(conn.execute(sa.select(members).where(
                members.c.image_id == image['id'], members.c.member == member)).one())
        return self._run(fn, write=True, what='member %s of image %s' % (member, image_id))

    def _member_row(self, conn, ctx, memb_id):
        """A live member record the caller takes part in (owner, member, admin)."""
        row = conn.execute(sa.select(members).where(members.c.id == memb_id)
                           .with_for_update()).first()
        if row is not None and not row.deleted:
            try:
                image = self._image_row(conn, ctx, row.image_id, live=True)
            except exceptions.ImageNotFound:
                image = None
            if image is not None and (ctx.is_admin or ctx.owner in (image['owner'], row.member)):
                return row, image
        raise exceptions.MemberNotFound('member record %s not found' % (memb_id,))

    def image_member_update(self, ctx, memb_id, values):
        """Set ``status`` (the member itself or an admin) or ``can_share`` (the owner)."""
        checks.caller(ctx)
        memb_id = _member_id(memb_id)
        values = checks.mapping('member', values)
        check_keys('member', values, {'status', 'can_share'})
        if 'status' in values:
            _member_status(values['status'])

        def fn(conn):
            row, image = self._member_row(conn, ctx, memb_id)
            if 'status' in values and not (ctx.is_admin or ctx.owner == row.member):
                raise exceptions.Forbidden('only member %s may set its status on image %s'
                                           % (row.member, row.image_id))
            if 'can_share' in values and not self.is_image_mutable(ctx, image):
                raise exceptions.Forbidden('only the owner of image %s may change can_share'
                                           % (row.image_id,))
            changes = dict(values, updated_at=utcnow())
            if 'can_share' in changes:
                changes['can_share'] = bool(changes['can_share'])
            conn.execute(members.update().where(members.c.id == row.id).values(changes))
            return member_dict(conn.execute(
                sa.select(members).where(members.c.id == row.id)).one())
        return self._run(fn, write=True, what='member record %s' % (memb_id,))

    def image_member_delete(self, ctx, memb_id):
        """Soft-delete a member record (the image owner or an admin)."""
        checks.caller(ctx)
        memb_id = _member_id(memb_id)

        def fn(conn):
            row, image = self._member_row(conn, ctx, memb_id)
            self._require_mutable(ctx, image, 'remove members of')
            now = utcnow()
            conn.execute(members.update().where(members.c.id == row.id).values(
                deleted=True, deleted_at=now, updated_at=now))
        return self._run(fn, write=True, what='member record %s' % (memb_id,))

    def image_member_find(self, ctx, image_id=None, member=None, status=None,
                          include_deleted=False):
        """Member records the caller takes part in (as image owner or as member)."""
        checks.caller(ctx)
        if image_id is not None:
            image_id = checks.image_id(image_id)
        if member is not None:
            member = checks.text('member', member)
        query = sa.select(members).join(images, images.c.id == members.c.image_id).where(
            images.c.deleted == sa.false())
        if image_id is not None:
            query = query.where(members.c.image_id == image_id)
        if member is not None:
            query = query.where(members.c.member == member)
        if status is not None:
            query = query.where(members.c.status == _member_status(status))
        if not include_deleted:
            query = query.where(members.c.deleted == sa.false())
        if not ctx.is_admin:
            if ctx.owner is None:
                return []
            query = query.where(sa.or_(images.c.owner == ctx.owner,
                                       members.c.member == ctx.owner))
        return self._run(lambda conn: [member_dict(r) for r in conn.execute(
            query.order_by(members.c.id))], what='member list')

    def image_member_count(self, ctx, image_id):
        """Number of live members of a visible image."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)

        def fn(conn):
            image = self._image_row(conn, ctx, image_id)
            return conn.execute(sa.select(sa.func.count()).where(
                members.c.image_id == image['id'], members.c.deleted == sa.false())).scalar()
        return self._run(fn, what='members of image %s' % (image_id,))
