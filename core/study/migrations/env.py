"""Alembic environment for the reader-study store.

Run programmatically by `core.study.store.upgrade(connection)` (no alembic.ini needed): the caller passes
an open connection in `config.attributes["connection"]`, already inside a transaction that holds the
database's migration lock. For development, `alembic -x url=sqlite:///x.sqlite ...` also works with a
config whose script_location points here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from core.study.schema import Base

target_metadata = Base.metadata
try:
    config = context.config
except AttributeError:  # imported outside an Alembic run (e.g. an import sweep of core): nothing to do
    config = None


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)


def run_migrations_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if config is None:
    pass
elif context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
