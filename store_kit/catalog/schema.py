"""Schema management: alembic upgrade to head and the current revision."""

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'migrations')


def alembic_config(connection=None):
    """An alembic Config pointing at the packaged migrations (no .ini)."""
    cfg = Config()
    cfg.set_main_option('script_location', MIGRATIONS)
    cfg.attributes['connection'] = connection
    return cfg


def upgrade(engine, revision='head'):
    """Migrate the database behind ``engine`` to ``revision``."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def current_revision(engine):
    """The revision the database is at, or None for an unversioned one."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision():
    """The newest revision shipped in the package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
