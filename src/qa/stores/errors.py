"""What can go wrong with an index, whichever store holds it; every message ends with the fix.

They derive from `qa.errors.QAError`, so the CLI and the app show them as they are. They live here, not in
a backend, so that a caller can catch them without importing FAISS's or Milvus's code.
"""

from __future__ import annotations

from qa.errors import QAError


class IndexError_(QAError):
    """Base for index problems; every message ends with the command that fixes it."""


class IndexMissing(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class IndexUnwritable(IndexError_):
    """The index folder cannot be written (permissions, a full disk); nothing was switched."""


class MilvusUnavailable(IndexError_):
    """The configured Milvus cannot be used; the message names the setting to fix."""
