"""Bulk contact import from CSV or JSONL: validated rows, merged like ``identify``, idempotent.

Rows are read, validated and merged in batches; each batch is one transaction that inserts new
contacts and updates existing ones (traits merged last-write-wins, as ``identify`` does), so a
re-run of the same file changes nothing and a partial run can simply be run again.

- :mod:`store.importing.sources`: reading ``.csv`` and ``.jsonl`` files, in batches.
- :mod:`store.importing.rows`: validating raw rows and building the values a batch inserts.
- :mod:`store.importing.pool`: the worker processes that parse large files.
- :mod:`store.importing.writers`: one batch, one transaction.
- :mod:`store.importing.importer`: ``Importer``, which runs all of the above in order.
- :mod:`store.importing.report`: ``ImportReport``, rejected rows and the rejects file.

Parsing runs in worker processes for large files. Where workers are not forked (Python 3.12+,
macOS, Windows) they import the ``__main__`` module, so a script that imports must guard its
entry point with ``if __name__ == "__main__":``.
"""

from store.importing.importer import POOL_MIN_BYTES, Importer
from store.importing.report import ImportReport, Rejected, write_rejects
from store.importing.rows import parse_row
from store.importing.sources import RowSource, read_rows

__all__ = [
    "POOL_MIN_BYTES",
    "ImportReport",
    "Importer",
    "Rejected",
    "RowSource",
    "parse_row",
    "read_rows",
    "write_rejects",
]
