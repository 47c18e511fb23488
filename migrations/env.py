"""Alembic environment: the engine comes from monitor.db (so SQLite pragmas apply), not from an ini."""
from alembic import context

from monitor.store.models import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    context.run_migrations()
