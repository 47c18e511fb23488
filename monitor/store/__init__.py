"""Storage: the engine, the models and every query. The only package that imports SQLAlchemy;
the rest of the monitor holds a ``Database`` and calls the functions of these modules with the
sessions it opens."""
from sqlalchemy.orm import Session

from .engine import DATABASE_ERRORS, Database, describe, display_url, trouble
from .leases import instance_id

__all__ = ["DATABASE_ERRORS", "Database", "Session", "describe", "display_url", "instance_id", "trouble"]
