"""Everything that knows glance.

* :mod:`store_kit.glance.drivers`: store_kit's drivers published to glance
  under the ``glance_store.drivers`` entry points ``store_kit_file``,
  ``store_kit_s3`` and ``store_kit_http`` (needs glance_store:
  ``pip install store_kit[glance]``);
* :mod:`store_kit.glance.errors`: store_kit errors as glance_store
  exceptions, in one place;
* :mod:`store_kit.glance.database`: glance's own ``image_locations`` table
  (bulk backfill and check of a glance database; SQLAlchemy only).

Importing this package imports neither glance nor glance_store; the core of
store_kit never imports it.
"""
