"""Timestamps keep their instant on every database: SQLite stores only a wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.exc import StatementError

from bwc_custody.timeutil import UtcDateTime

EASTERN = timezone(timedelta(hours=-5))


def test_an_offset_time_is_read_back_as_the_same_instant_in_utc(db_url: str) -> None:
    engine = create_engine(db_url)
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UtcDateTime()))
    table.metadata.create_all(engine)
    given = datetime(2026, 3, 2, 10, 0, tzinfo=EASTERN)
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=given))
        conn.execute(insert(table).values(id=2, at=None))
        later = conn.execute(select(table.c.id).where(table.c.at > datetime(
            2026, 3, 2, 14, 30, tzinfo=UTC))).scalars().all()
    with engine.connect() as conn:
        rows = {i: at for i, at in conn.execute(select(table.c.id, table.c.at))}
    engine.dispose()
    assert rows == {1: datetime(2026, 3, 2, 15, 0, tzinfo=UTC), 2: None}
    assert rows[1] is not None
    assert rows[1].utcoffset() == timedelta(0)
    assert later == [1]  # compared as instants: 10:00-05:00 is after 14:30 UTC


def test_a_naive_time_is_refused(db_url: str) -> None:
    engine = create_engine(db_url)
    table = Table("t", MetaData(), Column("at", UtcDateTime()))
    table.metadata.create_all(engine)
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(insert(table).values(at=datetime(2026, 3, 2, 10, 0)))
    engine.dispose()


def test_a_moment_of_a_recording_reads_as_the_player_shows_it() -> None:
    from bwc_custody.timeutil import video_clock

    assert video_clock(67.5) == "1:07.5"
    assert video_clock(None) == "0:00.0"
    assert video_clock(-1.0) == "0:00.0"
    # rounded before it is split: never "0:60.0"
    assert video_clock(59.96) == "1:00.0"
    assert video_clock(119.97) == "2:00.0"
    assert video_clock(3600.04) == "60:00.0"
