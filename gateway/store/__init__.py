"""Storage: the repository over SQLAlchemy Core (PostgreSQL or SQLite) and the spool."""
