"""Use cases: each takes plain commands, runs one unit of work, returns domain objects.

Blocking database work runs on a worker thread so the event loop never waits on it.
"""
