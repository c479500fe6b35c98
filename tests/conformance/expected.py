"""The glance DB tests the catalog fails on purpose, and why.

``EXPECTED`` maps a test (``GlanceClass::test_name``, or
``GlanceClass::test_name[engine]`` for one engine only) to a key of
``REASONS``. Each runs as a strict expected failure naming its reason, so a
test that starts passing, or an unlisted one that fails, breaks the run.
doc/catalog.md ("Conformance with glance's DB tests") lists the same table.
"""

#: reason key -> the design decision (doc/catalog.md) the test disagrees with
REASONS = {
    'no-project': 'a non-admin caller without a project owns nothing, so it can create '
                  'no image (glance creates one that belongs to no one)',
    'permissions': 'the catalog checks permissions itself: only the owner (or an admin) '
                   'changes an image, its tags, properties and members, and a non-admin '
                   'reads only its own usage (glance leaves this to its API layer)',
    'not-visible-is-not-found': 'an image the caller may not see is ImageNotFound, like '
                                'a missing one (glance: Forbidden, which tells it exists)',
    'admin-sees-all': 'admins list every image, community ones of other projects '
                      'included, unless admin_as_user',
    'unknown-filter': 'an unknown filter key is Invalid naming it (glance reads it as a '
                      'property filter); properties are filtered with '
                      "filters={'properties': {...}}, public images with is_public=",
    'protected-destroy': 'image_destroy refuses a protected image (ImageProtected); '
                         'glance leaves that check to its API layer',
    'null-order': 'NULLs sort last ascending and first descending on every engine, so '
                  'keyset pages never skip or repeat an image (glance sorts NULL first '
                  'ascending on SQLite and MariaDB, last on PostgreSQL)',
    'live-rows-only': 'images come back with their live properties only (glance also '
                      'returns deleted ones, flagged deleted)',
    'shared-data': 'a non-admin may not attach a location whose data another image of '
                   'another project references (glance\'s fixtures reuse one URL)',
    'empty-range-invalid': 'a range filter whose minimum is above its maximum is '
                           'InvalidFilterRange naming both (glance: an empty page)',
    'new-location-status': 'a new location is active or pending_delete; adding one '
                           'already deleted is Invalid (glance stores it)',
    'pending-issue10-api': 'issue 10 section 1 (catalog API additions) not merged yet',
}

#: reason keys whose tests are non-strict expected failures (may pass)
NOT_STRICT = ('pending-issue10-api',)

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
    'pending-issue10-api': [
        'TestSqlAlchemyDriver::test_image_create_bad_location',
        'TestSqlAlchemyDriver::test_image_create_bad_name',
        'TestSqlAlchemyDriver::test_image_create_bad_property',
        'TestSqlAlchemyDriver::test_image_get_all_with_invalid_quotes',
        'TestSqlAlchemyDriver::test_image_get_all_with_quotes',
        'TestSqlAlchemyDriver::test_image_tag_get_all_non_existent_image',
        'TestSqlAlchemyDriver::test_image_update_bad_location',
        'TestSqlAlchemyDriver::test_image_update_bad_name',
        'TestSqlAlchemyDriver::test_image_update_bad_property',
        'TestSqlAlchemyDriver::test_update_locations_direct',
    ],
}

EXPECTED = {test: key for key, tests in _BY_REASON.items() for test in tests}
assert len(EXPECTED) == sum(map(len, _BY_REASON.values())), 'a test is listed twice'


def reason_key(glance_class, test_name, engine):
    """The reason key of a test on ``engine``, or None if it must pass."""
    test = '%s::%s' % (glance_class, test_name)
    return EXPECTED.get('%s[%s]' % (test, engine), EXPECTED.get(test))
