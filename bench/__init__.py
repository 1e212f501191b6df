"""``make bench``: the service's throughput against a bare Starlette floor on one machine.

Run ``python -m bench --help``. The modules, one concept each:

- ``floor_app``: the hello-world app served with the service's own uvicorn settings.
- ``procs``: starting, watching and always stopping the server subprocesses.
- ``wrk``: installing, running and parsing ``wrk``.
- ``flow``: the full guest checkout (tokenize, create, pay) from an asyncio client.
- ``report``: the table, the goals, the machine and ``docs/BENCHMARKS.md``.
"""
