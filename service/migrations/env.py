"""Alembic environment: the URL comes from the caller (service.db.migrate), the schema from our models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import service.accounts.models  # noqa: F401 - registers tables
import service.audit.models  # noqa: F401
import service.drafting.calibration_store  # noqa: F401
import service.evaluation.models  # noqa: F401
import service.knowledge_base.models  # noqa: F401
import service.library.models  # noqa: F401
import service.questionnaires.models  # noqa: F401
import service.review.models  # noqa: F401
from service.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
