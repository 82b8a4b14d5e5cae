"""python -m rm_abstract info|ops|test|bench|... — the `rma` command line.

Runs the rma executable that comes with the package (bin/rma beside the
package's lib/, or build/bin/rma in a build tree) with the same arguments,
so the output, options and exit codes are rma's own.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

from . import _rma


def rma_executable() -> str:
    """The rma command line built with this package."""
    return os.path.normpath(os.path.join(_rma.library_dir(), os.pardir, "bin", "rma"))


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    exe = rma_executable()
    if not os.access(exe, os.X_OK):
        sys.stderr.write(f"rm_abstract: error: the rma command line is missing ({exe})\n")
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(exe, [exe] + list(args))
    return 0  # not reached: execv replaces the process


if __name__ == "__main__":
    sys.exit(main())
