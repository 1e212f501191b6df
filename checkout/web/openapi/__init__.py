"""The OpenAPI 3.1 documents the listeners serve at ``GET /openapi.json``."""

from checkout.web.openapi.document import build_document, openapi_route, served_operations

__all__ = ["build_document", "openapi_route", "served_operations"]
