"""Database engine, sessions and the migration gate (the app never runs on an unmigrated DB)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from bwc_custody.config import get_settings
from bwc_custody.errors import DatabaseNotMigrated, InvalidInput

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The largest INTEGER PostgreSQL holds, the type of every id and sequence column: an id,
# sequence number or count beyond it is invalid input (422); given to the driver it
# overflowed (a 500). Byte sizes and offsets are BIGINT.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def _text_parameters(parameters: Any, names: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(name, value) of every text parameter of one execute (or executemany); positional
    parameters (SQLite) are named from the compiled statement where it has names."""
    batches = parameters if isinstance(parameters, list) else [parameters]
    for batch in batches:
        pairs = batch.items() if isinstance(batch, dict) else enumerate(batch or ())
        for key, value in pairs:
            if isinstance(value, str):
                name = names[key] if isinstance(key, int) and key < len(names) else key
                yield str(name), value


def storable_text(value: str) -> str:
    """`value` with each NUL written as the text \\x00: for text that comes from outside
    and must be kept whatever it holds (a tool's stderr, an error message, a request path)."""
    return value.replace("\x00", "\\x00")


def refuse_nul_text(_conn: Any, _cursor: Any, _statement: str, parameters: Any,
                    context: Any, _executemany: bool) -> None:
    """Refuse text holding a NUL character or a lone surrogate, on every database and from
    every caller.

    PostgreSQL cannot store a NUL (psycopg raises DataError, which reached API callers as a
    500); SQLite would keep it, so the same input would be stored or not by database. A lone
    surrogate (JSON's "\\ud800") is not Unicode text: it cannot be encoded as UTF-8, and the
    driver failed with a 500. JSON columns are unaffected: they are serialised with both
    escaped."""
    names = getattr(getattr(context, "compiled", None), "positiontup", None) or ()
    for name, value in _text_parameters(parameters, names):
        if "\x00" in value:
            raise InvalidInput("text holds a NUL character (U+0000), which is not stored",
                               parameter=name)
        if not value.isascii() and _has_surrogate(value):
            raise InvalidInput("text holds a lone surrogate (U+D800-U+DFFF), which is not "
                               "Unicode text", parameter=name)


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout. Text with a
    NUL character is refused on both (`refuse_nul_text`)."""
    engine = _make_engine(url)
    event.listen(engine, "before_cursor_execute", refuse_nul_text)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    settings = get_settings()
    return create_engine(url, pool_pre_ping=True, pool_size=settings.db_pool_size,
                         max_overflow=settings.db_pool_overflow)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().db_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def engine_of(session: Session) -> Engine:
    """The engine behind `session` (for a write that must commit on its own)."""
    bind = session.get_bind()
    assert isinstance(bind, Engine), bind
    return bind


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    """Migrate the database to the newest schema."""
    url = url or get_settings().db_url
    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the parent directory
    command.upgrade(alembic_config(url), revision)


def check_migrated(engine: Engine | None = None) -> None:
    """Raise DatabaseNotMigrated unless the database is at the newest schema."""
    engine = engine or get_engine()
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    heads = set(script.get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        raise DatabaseNotMigrated(
            "The database schema is not up to date "
            f"(at {sorted(current) or 'nothing'}, need {sorted(heads)}). "
            "Run `bwc db upgrade` first.",
            current=sorted(current),
            required=sorted(heads),
        )
