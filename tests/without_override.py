"""Run `python ARGS` as root without the capabilities that let root ignore file permissions.

    python -m tests.without_override -m tests.fake_cli index ...      (run from the repository root)

The capabilities are dropped here and then this process execs the real command, so the test process never
forks with a `preexec_fn`: forking a process whose other threads are inside a library (gRPC, loaded by the
Milvus store tests) runs that library's fork handlers in the child, and they wrote an error line into the
child's stderr, which the tests read. Exits with NO_DROP when the drop itself is refused.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
NO_DROP = 97


def main() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            print(f"prctl(PR_CAPBSET_DROP) refused: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
            sys.exit(NO_DROP)
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])


if __name__ == "__main__":
    main()
