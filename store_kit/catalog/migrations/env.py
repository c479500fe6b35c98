"""Alembic environment of the catalog (configured programmatically)."""

from alembic import context

from store_kit.catalog import models

config = context.config


def run_migrations_online():
    """Run migrations on the connection handed over by schema.upgrade."""
    connection = config.attributes['connection']
    context.configure(
        connection=connection,
        target_metadata=models.metadata,
        render_as_batch=connection.dialect.name == 'sqlite',
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit('store_kit catalog migrations run online only')
run_migrations_online()
