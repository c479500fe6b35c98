"""The glance DB tests the catalog fails on purpose, and why.

``EXPECTED`` maps a test (``GlanceClass::test_name``, or
``GlanceClass::test_name[engine]`` for one engine only) to a key of
``REASONS``. Each runs as a strict expected failure naming its reason, so a
test that starts passing, or an unlisted one that fails, breaks the run.
doc/catalog.md ("Conformance with glance's DB tests") lists the same table.
"""

#: reason key -> the catalog's rule the test disagrees with (glance's behaviour);
#: doc/catalog.md's reasons table holds the same texts
REASONS = {
    'no-project':
        'a non-admin caller without a project owns nothing and can create no image (glance '
        'creates one that belongs to no one and is visible to all)',
    'permissions':
        'the catalog checks rights itself: only the owner or an admin changes an image, its '
        'tags, properties and members, and a non-admin reads only its own project\'s usage '
        '(glance\'s DB functions leave this to its API layer)',
    'not-visible-is-not-found':
        'an image the caller may not see is `ImageNotFound`, exactly like a missing one '
        '(glance: `Forbidden`, which tells that it exists)',
    'admin-sees-all':
        'admins list every image, other projects\' community images included, unless '
        '`admin_as_user` (glance hides them from admins too)',
    'unknown-filter':
        'an unknown filter key is `Invalid` naming it; properties are filtered with '
        '`filters={\'properties\': {...}}` and public images with `is_public=` (glance takes '
        'any unknown key for a property name)',
    'protected-destroy':
        '`image_destroy` refuses a protected image with `ImageProtected` (glance\'s DB '
        'function destroys it; its API layer checks)',
    'null-order':
        'NULLs sort last ascending and first descending on every engine, so keyset pages '
        'never skip or repeat an image (glance\'s tests expect NULL before every value '
        'ascending)',
    'live-rows-only':
        'images come back with their live properties only (glance also returns the deleted '
        'ones, flagged `deleted`; its own TODO says it should not)',
    'shared-data':
        'a non-admin may not attach a location whose data another image already references: '
        'data is shared between images only on purpose, by an admin (glance\'s fixtures give '
        'every image the same URL)',
    'new-location-status':
        'a new location is `active` or `pending_delete`; adding one already `deleted` is '
        '`Invalid` (glance stores it)',
    'empty-range-invalid':
        'a range filter whose `_min` is above its `_max` is `InvalidFilterRange` naming both '
        '(glance returns an empty page)',
    'four-byte-utf8':
        '4-byte UTF-8 (emoji) is accepted in every text value on every engine (see "Text '
        'compares exactly"; glance refuses it)',
    'tags-of-missing-image':
        '`image_tag_get_all` of a missing or invisible image is `ImageNotFound`, like every '
        'by-id method (glance returns `[]`)',
}

_BY_REASON = {
    'no-project': [
        'TestSqlAlchemyDriver::test_image_create_defaults',
        'TestSqlAlchemyDriver::test_image_create_duplicate_id',
        'TestSqlAlchemyDriver::test_image_create_properties',
        'TestSqlAlchemyDriver::test_image_create_requires_status',
        'TestSqlAlchemyDriver::test_image_create_with_location_data',
        'TestSqlAlchemyDriver::test_image_create_with_locations',
        'TestSqlAlchemyDriver::test_image_create_without_locations',
        'TestSqlAlchemyDriver::test_image_destroy',
        'TestSqlAlchemyDriver::test_image_destroy_with_delete_all',
    ],
    'permissions': [
        'TestSqlAlchemyDriver::test_user_get_storage_usage_with_invalid_long_image_id',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_deleted_tags',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_multi_tags',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_tags',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_tags_and_nonexistent',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_user_deleted_property',
        'TestSqlAlchemyDriver::test_image_get_all_with_tag_returning',
        'TestSqlAlchemyDriver::test_image_member_count',
        'TestSqlAlchemyDriver::test_image_member_count_empty_image_id',
        'TestSqlAlchemyDriver::test_image_member_count_invalid_image_id',
        'TestSqlAlchemyDriver::test_image_member_create',
        'TestSqlAlchemyDriver::test_image_member_delete',
        'TestSqlAlchemyDriver::test_image_member_find',
        'TestSqlAlchemyDriver::test_image_member_update',
        'TestSqlAlchemyDriver::test_image_member_update_status',
        'TestSqlAlchemyDriver::test_image_property_delete',
        'TestSqlAlchemyDriver::test_image_tag_create',
        'TestSqlAlchemyDriver::test_image_tag_create_bad_value',
        'TestSqlAlchemyDriver::test_image_tag_delete',
        'TestSqlAlchemyDriver::test_image_tag_get_all',
        'TestSqlAlchemyDriver::test_image_tag_set_all',
    ],
    'not-visible-is-not-found': [
        'TestSqlAlchemyDriver::test_image_get_not_owned',
    ],
    'admin-sees-all': [
        'TestSqlAlchemyVisibility::test_known_admin_is_public_false',
        'TestSqlAlchemyVisibility::test_known_admin_is_public_none',
        'TestSqlAlchemyVisibility::test_known_admin_sees_all_but_others_community_images',
        'TestSqlAlchemyVisibility::test_unknown_admin_is_public_false',
        'TestSqlAlchemyVisibility::test_unknown_admin_is_public_none',
        'TestSqlAlchemyVisibility::test_unknown_admin_sees_all_but_community',
    ],
    'unknown-filter': [
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_multiple_user_defined_properties',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_nonexistent_user_defined_property',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_nonexistent_userdef_property',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_undefined_property',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_user_defined_property',
        'TestSqlAlchemyDriver::test_image_get_all_with_filter_userdef_prop_nonexistent_value',
        'TestSqlAlchemyVisibility::test_is_public_is_a_normal_filter_for_admin',
        'TestSqlAlchemyVisibility::test_is_public_is_a_normal_filter_for_user',
    ],
    'protected-destroy': [
        'TestSqlAlchemyDriver::test_image_get_all_marker_deleted',
        'TestSqlAlchemyDriver::test_image_get_all_marker_deleted_showing_deleted',
        'TestSqlAlchemyDriver::test_image_get_allow_deleted',
        'TestSqlAlchemyDriver::test_image_get_disallow_deleted',
        'TestSqlAlchemyDriver::test_image_get_force_allow_deleted',
    ],
    'null-order': [
        'TestSqlAlchemyDriver::test_image_get_all_marker_null_container_format_asc',
        'TestSqlAlchemyDriver::test_image_get_all_marker_null_container_format_desc',
        'TestSqlAlchemyDriver::test_image_get_all_marker_null_disk_format_asc',
        'TestSqlAlchemyDriver::test_image_get_all_marker_null_disk_format_desc',
        'TestSqlAlchemyDriver::test_image_get_all_marker_null_name_asc',
        'TestSqlAlchemyDriver::test_image_get_all_marker_null_name_desc',
    ],
    'live-rows-only': [
        'TestSqlAlchemyDriver::test_image_update_purge_properties',
    ],
    'shared-data': [
        'TestSqlAlchemyQuota::test_storage_quota',
        'TestSqlAlchemyQuota::test_storage_quota_deleted_image',
        'TestSqlAlchemyQuota::test_storage_quota_multiple_locations',
        'TestSqlAlchemyQuota::test_storage_quota_without_image_id',
    ],
    'new-location-status': [
        'TestImageStorageUsage::test_get_uploading_count',
        'TestImageStorageUsage::test_get_storage_usage',
        'TestImageStorageUsage::test_get_staging_usage',
        'TestImageStorageUsage::test_get_image_count',
    ],
    'empty-range-invalid': [
        'TestSqlAlchemyDriver::test_image_get_all_size_range',
    ],
    'four-byte-utf8': [
        'TestSqlAlchemyDriver::test_image_create_bad_location',
        'TestSqlAlchemyDriver::test_image_create_bad_name',
        'TestSqlAlchemyDriver::test_image_create_bad_property',
        'TestSqlAlchemyDriver::test_image_update_bad_location',
        'TestSqlAlchemyDriver::test_image_update_bad_name',
        'TestSqlAlchemyDriver::test_image_update_bad_property',
        'TestSqlAlchemyDriver::test_update_locations_direct',
    ],
    'tags-of-missing-image': [
        'TestSqlAlchemyDriver::test_image_tag_get_all_non_existent_image',
    ],
}

EXPECTED = {test: key for key, tests in _BY_REASON.items() for test in tests}
assert len(EXPECTED) == sum(map(len, _BY_REASON.values())), 'a test is listed twice'


def reason_key(glance_class, test_name, engine):
    """The reason key of a test on ``engine``, or None if it must pass."""
    test = '%s::%s' % (glance_class, test_name)
    return EXPECTED.get('%s[%s]' % (test, engine), EXPECTED.get(test))
