"""``make bench``: the service's throughput against a bare Starlette floor on one machine.

Run ``python -m bench --help``. The modules, one concept each:

- ``runner``: one run: the servers, and each part measured in turn.
- ``floor_app``: the hello-world app served with the service's own uvicorn settings.
- ``ingest_app``: the public listener alone, for webhook ingestion.
- ``procs``: starting, watching and always stopping the server subprocesses.
- ``wrk``: installing, running and parsing ``wrk``.
- ``stripe_events``: distinct, validly signed Stripe events, and the wrk script sending them.
- ``flow``: the full guest checkout (tokenize, create, pay) from an asyncio client.
- ``drain``: a pre-filled inbox emptied by worker processes, and its rate.
- ``postgres``: a schema of the bench's own on a PostgreSQL server.
- ``report``: the table, the goals and the machine; ``docs``: ``docs/BENCHMARKS.md``.
"""
