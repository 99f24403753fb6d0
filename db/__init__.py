"""The store: policies, captures, versions, clauses and changes in one SQLite file."""

from db.store import PolicyNotFound, Store, StoreError

__all__ = ["PolicyNotFound", "Store", "StoreError"]
