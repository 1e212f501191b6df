"""Rows to domain objects and back.

Functions take an open SQLAlchemy ``Connection`` inside a transaction.
"""
