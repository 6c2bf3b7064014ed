"""The one error family for problems a user can fix.

Every error whose message names its own fix derives from `QAError`, so the faces (CLI, web app) catch
one base instead of listing the classes of five modules. Each subclass keeps the builtin base it had
(`ValueError`, `FileNotFoundError`, ...) so `except ValueError` in older callers still holds.
"""

from __future__ import annotations


class QAError(Exception):
    """A problem the user can fix; its message says how, and is shown as it is, without a traceback."""

    # Whether a web visitor may read the message. The operator always may (CLI, server log); a message
    # that names server paths (a model file, a document on disk) sets this False.
    public: bool = True


class UsageError(QAError):
    """Flags or arguments that do not go together."""
