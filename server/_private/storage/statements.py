"""`Statement`: a hot Core statement compiled once per dialect and run on the driver's cursor.

For the few statements on the hottest paths (an entry post, a page of entries).
SQLAlchemy's per-execution work (cache key, execution context, result metadata)
costs several times what SQLite itself spends on such a statement
(docs/performance.md); this runs the same SQL, written once as Core, in the same
transaction of the same connection, with the same locks. Only for statements whose
parameters and columns are bytes, integers or NULL, which both drivers hand over
unchanged, so no type processing is skipped. Driver errors are raised as
SQLAlchemy's (`IntegrityError` …), exactly as `conn.execute` raises them, so a
unique-constraint conflict still decides a race.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ClauseElement


@dataclasses.dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]


class Statement:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor."""

    def __init__(self, statement: ClauseElement | Callable[[], ClauseElement]) -> None:
        """`statement`, or a function that builds it when it is compiled.

        A function is for statements made per size (n posts at once): only their SQL
        is kept, not their Core constructs, which for every size would be a large heap
        that each full garbage collection (a pause of the event loop) must walk.
        """
        self._source = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        if dialect.paramstyle not in ("qmark", "numeric_dollar", "format"):  # pragma: no cover
            raise RuntimeError(f"unsupported paramstyle {dialect.paramstyle}")
        source = self._source
        statement = source if isinstance(source, ClauseElement) else source()
        compiled = statement.compile(dialect=dialect)
        names = tuple(getattr(compiled, "positiontup", None) or ())
        # Literals the statement carries (LIMIT/OFFSET defaults, constants) as bound values.
        binds: dict[str, sa.BindParameter[Any]] = getattr(compiled, "binds", {})
        fixed = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
        result = _Compiled(compiled.string, names, fixed)
        self._compiled[(dialect.name, dialect.driver)] = result
        return result

    def _run(self, conn: sa.Connection, params: dict[str, Any]) -> Any:
        dialect = conn.dialect
        compiled = self._compiled.get((dialect.name, dialect.driver)) or self._compile(dialect)
        sql, fixed = compiled.sql, compiled.fixed
        args = tuple([params[n] if n in params else fixed[n] for n in compiled.names])
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(sql, args)
        except dialect.loaded_dbapi.Error as e:
            cursor.close()
            if dialect.is_disconnect(e, dbapi_conn, cursor):
                conn.invalidate(e)
            raise sa.exc.DBAPIError.instance(
                sql,
                args,
                e,
                dialect.loaded_dbapi.Error,
                hide_parameters=conn.engine.hide_parameters,
                dialect=dialect,
            ) from e
        return cursor

    def rows(self, conn: sa.Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self._run(conn, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        cursor.close()
        return rows

    def first(self, conn: sa.Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        rows = self.rows(conn, params)
        return rows[0] if rows else None

    def run(self, conn: sa.Connection, params: dict[str, Any]) -> int:
        """Execute a statement that returns no rows; the number of rows it changed."""
        cursor = self._run(conn, params)
        count: int = cursor.rowcount
        cursor.close()
        return count


def per_size(build: Callable[[int], ClauseElement]) -> Callable[[int], Statement]:
    """One `Statement` per size n, whose Core construct is built only to be compiled.

    `.__wrapped__(n)` (from `functools.cache`) makes a fresh, uncached one.
    """

    @functools.cache
    def statement(n: int) -> Statement:
        return Statement(functools.partial(build, n))

    return statement
