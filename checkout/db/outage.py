"""Which database errors mean "the database is away", as opposed to a bug.

A restarted, crashed or unreachable database shows up as the driver's OperationalError
(connection refused, "the database system is starting up", an administrator shutdown,
a server that closed the connection mid-statement), as an InterfaceError on a connection
already closed, or as the pool's TimeoutError when no connection came free in time.
SQLAlchemy invalidates the pooled connection in each case and its pre-ping replaces it on
next use, so the service recovers by itself; meanwhile the request is answered ``503``
(retry later), never ``500``. Constraint violations and programming errors stay bugs.
"""

from __future__ import annotations

import sqlalchemy as sa


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.TimeoutError):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError
        )
    return False
