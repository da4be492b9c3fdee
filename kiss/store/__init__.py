"""The hub's database: SQLAlchemy models, repositories, Alembic migrations, seed import."""
