"""The `rma` command line as the ONNX tests call it: a private compile cache
(RM_CACHE_DIR) and none of the caller's cache or device settings."""

import os
import subprocess


class Cli:
    def __init__(self, rma, cache_dir, timeout=300):
        self.rma = rma
        self.timeout = timeout
        self.env = dict(os.environ, RM_CACHE_DIR=cache_dir, RM_CACHE_ENABLED="1")
        for var in ("RM_CACHE_STORE_URL", "RM_CACHE_LIFETIME", "RM_DEVICE"):
            self.env.pop(var, None)

    def __call__(self, *args):
        return subprocess.run([self.rma, *args], capture_output=True, text=True,
                              timeout=self.timeout, env=self.env)


def describe(result):
    """A failed run in one line: its exit status and what it printed."""
    return f"exit {result.returncode}: {result.stderr.strip() or result.stdout.strip()}"
