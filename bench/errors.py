"""The one error the bench raises when it cannot produce trustworthy numbers."""

from __future__ import annotations


class BenchError(Exception):
    """Setup failed, a tool is missing, or a route answered with errors."""
