"""glance's database API (``glance.db.sqlalchemy.api``) over a Catalog.

Translation only: glance contexts become store_kit ones, glance's argument
shapes become the catalog's, returned rows take glance's shapes, and
store_kit exceptions are re-raised as the glance exception classes of the
same meaning. Every decision (permissions, filters, values) is the
catalog's: nothing here filters, checks or emulates.
"""

import functools

from glance.common import exception as glance_exc

from store_kit import exceptions
from store_kit.context import RequestContext

#: store_kit exception class -> glance exception class of the same meaning;
#: the first class of a raised error's MRO found here wins
EXCEPTIONS = {
    exceptions.StoreKitError: glance_exc.GlanceException,
    exceptions.NotFound: glance_exc.NotFound,
    exceptions.ImageNotFound: glance_exc.ImageNotFound,
    exceptions.Duplicate: glance_exc.Duplicate,
    exceptions.Forbidden: glance_exc.Forbidden,
    exceptions.ImageProtected: glance_exc.ProtectedImageDelete,
    exceptions.Invalid: glance_exc.Invalid,
    exceptions.InvalidSortKey: glance_exc.InvalidSortKey,
    exceptions.InvalidSortDir: glance_exc.InvalidSortDir,
    exceptions.InvalidFilterRange: glance_exc.InvalidFilterRangeValue,
    exceptions.InvalidFilterOperator: glance_exc.InvalidFilterOperatorValue,
    exceptions.InvalidFilterValue: glance_exc.InvalidParameterValue,
    exceptions.Conflict: glance_exc.Conflict,
}

#: who makes the calls glance makes without a context (the atomic property
#: functions: glance authorised its caller before; the catalog's caller
#: whose rights were checked elsewhere is an admin)
TRUSTED = RequestContext(is_admin=True)


def glance_error(err):
    """The glance exception for store_kit error ``err`` (same message)."""
    for cls in type(err).__mro__:
        if cls in EXCEPTIONS:
            return EXCEPTIONS[cls](str(err))
    return err


def translated(fn):
    """Re-raise store_kit errors of ``fn`` as glance's classes."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except exceptions.StoreKitError as err:
            raise glance_error(err) from err
    return wrapper


class Row(dict):
    """A row read both ways, as glance's model objects are (``p['name']``
    and ``p.name``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def context(ctx):
    """A glance RequestContext as a store_kit one (same project, admin
    flag and read-only flag)."""
    return RequestContext(project_id=ctx.owner, is_admin=ctx.is_admin,
                          user_id=getattr(ctx, 'user_id', None),
                          read_only=getattr(ctx, 'read_only', False))


def image_values(values):
    """glance image values as the catalog's: the v1 key ``is_public``
    becomes ``visibility`` as glance's own API does before writing, and the
    soft-delete columns at their live values (``deleted`` false,
    ``deleted_at`` None: glance's fixtures carry them), which the catalog
    manages itself, are left out; any other value of theirs is passed on."""
    values = dict(values)
    if 'deleted' in values and not values['deleted']:
        del values['deleted']
    if 'deleted_at' in values and values['deleted_at'] is None:
        del values['deleted_at']
    if 'is_public' in values and 'visibility' not in values:
        values['visibility'] = 'public' if values.pop('is_public') else 'shared'
    return values


def image_row(found, with_tags=False):
    """A catalog image in glance's shape: properties as a list of rows,
    ``tags`` only where glance returns them."""
    if found is None:
        return None
    shaped = Row(found)
    shaped['properties'] = [Row(image_id=found['id'], name=name, value=value,
                                deleted=False, deleted_at=None)
                            for name, value in found.get('properties', {}).items()]
    if not with_tags:
        shaped.pop('tags', None)
    return shaped


def member_row(found):
    """A member record in glance's shape (``_image_member_format``)."""
    keys = ('id', 'image_id', 'member', 'can_share', 'status', 'created_at',
            'updated_at', 'deleted')
    return None if found is None else Row({k: found.get(k) for k in keys})


def property_row(found):
    """A property row (as returned by the catalog) as a glance row."""
    return None if found is None else Row(found)


class GlanceDBAPI:
    """The functions of ``glance.db.sqlalchemy.api`` the DB tests call,
    on ``catalog``."""

    def __init__(self, catalog):
        self.catalog = catalog

    # -- images --------------------------------------------------------

    @translated
    def image_create(self, ctx, values, v1_mode=False):
        return image_row(self.catalog.image_create(context(ctx), image_values(values)))

    @translated
    def image_update(self, ctx, image_id, values, purge_props=False, from_state=None,
                     v1_mode=False, atomic_props=None):
        return image_row(self.catalog.image_update(
            context(ctx), image_id, image_values(values), purge_props=purge_props,
            from_state=from_state, atomic_props=atomic_props))

    @translated
    def image_destroy(self, ctx, image_id):
        return image_row(self.catalog.image_destroy(context(ctx), image_id))

    @translated
    def image_restore(self, ctx, image_id):
        self.catalog.image_restore(context(ctx), image_id)

    @translated
    def image_get(self, ctx, image_id, force_show_deleted=False, v1_mode=False):
        return image_row(self.catalog.image_get(context(ctx), image_id,
                                                force_show_deleted=force_show_deleted))

    @translated
    def image_get_all(self, ctx, filters=None, marker=None, limit=None, sort_key=None,
                      sort_dir=None, member_status='accepted', is_public=None,
                      admin_as_user=False, return_tag=False, v1_mode=False):
        found = self.catalog.image_get_all(
            context(ctx), filters=filters, marker=marker, limit=limit, sort_key=sort_key,
            sort_dir=sort_dir, member_status=member_status, is_public=is_public,
            admin_as_user=admin_as_user, return_tag=return_tag)
        return [image_row(i, with_tags=return_tag) for i in found]

    @translated
    def is_image_visible(self, ctx, img, status=None):
        return self.catalog.is_image_visible(context(ctx), img, status=status)

    @translated
    def is_image_mutable(self, ctx, img):
        return self.catalog.is_image_mutable(context(ctx), img)

    # -- atomic properties (glance calls them without a context) --------

    @translated
    def image_set_property_atomic(self, image_id, name, value):
        self.catalog.image_set_property_atomic(TRUSTED, image_id, name, value)

    @translated
    def image_delete_property_atomic(self, image_id, name, value):
        self.catalog.image_delete_property_atomic(TRUSTED, image_id, name, value)

    # -- properties and tags ---------------------------------------------

    @translated
    def image_property_create(self, ctx, values):
        return property_row(self.catalog.image_property_create(context(ctx), values))

    @translated
    def image_property_delete(self, ctx, prop_ref, image_ref):
        return property_row(self.catalog.image_property_delete(context(ctx), prop_ref, image_ref))

    @translated
    def image_tag_set_all(self, ctx, image_id, tags):
        self.catalog.image_tag_set_all(context(ctx), image_id, tags)

    @translated
    def image_tag_create(self, ctx, image_id, value):
        return self.catalog.image_tag_create(context(ctx), image_id, value)

    @translated
    def image_tag_delete(self, ctx, image_id, value):
        self.catalog.image_tag_delete(context(ctx), image_id, value)

    @translated
    def image_tag_get_all(self, ctx, image_id):
        return self.catalog.image_tag_get_all(context(ctx), image_id)

    # -- locations -------------------------------------------------------

    @translated
    def image_location_add(self, ctx, image_id, location):
        self.catalog.image_location_add(context(ctx), image_id, location)

    @translated
    def image_location_update(self, ctx, image_id, location):
        self.catalog.image_location_update(context(ctx), image_id, location)

    @translated
    def image_location_delete(self, ctx, image_id, location_id, status, delete_time=None):
        self.catalog.image_location_delete(context(ctx), image_id, location_id, status,
                                           delete_time=delete_time)

    # -- members ---------------------------------------------------------

    @translated
    def image_member_create(self, ctx, values):
        return member_row(self.catalog.image_member_create(context(ctx), values))

    @translated
    def image_member_update(self, ctx, memb_id, values):
        return member_row(self.catalog.image_member_update(context(ctx), memb_id, values))

    @translated
    def image_member_delete(self, ctx, memb_id):
        self.catalog.image_member_delete(context(ctx), memb_id)

    @translated
    def image_member_find(self, ctx, image_id=None, member=None, status=None,
                          include_deleted=False):
        return [member_row(m) for m in self.catalog.image_member_find(
            context(ctx), image_id=image_id, member=member, status=status,
            include_deleted=include_deleted)]

    @translated
    def image_member_count(self, ctx, image_id):
        return self.catalog.image_member_count(context(ctx), image_id)

    # -- usage (quotas) --------------------------------------------------

    @translated
    def user_get_storage_usage(self, ctx, owner_id, image_id=None):
        return self.catalog.user_get_storage_usage(context(ctx), owner_id, image_id=image_id)

    @translated
    def user_get_staging_usage(self, ctx, owner_id):
        return self.catalog.user_get_staging_usage(context(ctx), owner_id)

    @translated
    def user_get_image_count(self, ctx, owner_id):
        return self.catalog.user_get_image_count(context(ctx), owner_id)

    @translated
    def user_get_uploading_count(self, ctx, owner_id):
        return self.catalog.user_get_uploading_count(context(ctx), owner_id)
