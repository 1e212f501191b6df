"""``EXPLAIN`` of a SQLAlchemy statement, on either backend, with its parameters bound as
the statement itself would bind them (tests and the bench prove index use with it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(Explain)
def _compile(element: Explain, compiler: Any, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + str(compiler.process(element.statement, **kw))


def explain(conn: Connection, statement: ClauseElement) -> list[str]:
    """The plan's lines (SQLite: the ``detail`` column of ``EXPLAIN QUERY PLAN``)."""
    rows = conn.execute(Explain(statement)).all()
    if conn.dialect.name == "sqlite":
        return [str(r[-1]) for r in rows]
    return [str(r[0]) for r in rows]
