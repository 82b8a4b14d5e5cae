"""The exceptions rm_abstract raises: one hierarchy under RMAbstractError.

Errors from the C++ core carry ``code`` (the rma::ErrorCode name), ``op``
and ``device`` (None when not about one). Each class also derives from the
built-in exception a caller would expect, so ``except ValueError`` catches a
schema error and ``except MemoryError`` an out-of-memory one.

    RMAbstractError
    ├── InvalidArgumentError (ValueError)   bad shapes, dtypes, attributes, options
    ├── NotFoundError (LookupError)         a device, file or model that is not there
    │   └── DeviceNotFoundError             an unknown device: the message lists those present
    ├── UnsupportedError (NotImplementedError)  the device or engine cannot do it
    ├── OutOfMemoryError (MemoryError)      the device ran out of memory
    ├── DeviceError                         the device or its driver failed
    ├── ABIMismatchError                    a plugin built for another ABI
    ├── InternalError                       a bug: please report it
    ├── NotInitializedError                 used before rm_abstract.init()
    └── FallbackError                       fallback="error" and a model or call would fall back
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "RMAbstractError",
    "InvalidArgumentError",
    "NotFoundError",
    "DeviceNotFoundError",
    "UnsupportedError",
    "OutOfMemoryError",
    "DeviceError",
    "ABIMismatchError",
    "InternalError",
    "NotInitializedError",
    "FallbackError",
]


class RMAbstractError(Exception):
    """Base of every rm_abstract error."""

    code: Optional[str] = None
    op: Optional[str] = None
    device: Optional[str] = None


class InvalidArgumentError(RMAbstractError, ValueError):
    """An argument breaks a rule: the message names it, what was expected and what came."""


class NotFoundError(RMAbstractError, LookupError):
    """A device, file or model that is not there."""


class DeviceNotFoundError(NotFoundError):
    """An unknown device; the message lists the devices present."""


class UnsupportedError(RMAbstractError, NotImplementedError):
    """The device, plugin or engine does not do what was asked."""


class OutOfMemoryError(RMAbstractError, MemoryError):
    """The device ran out of memory."""


class DeviceError(RMAbstractError):
    """The device or its driver failed."""


class ABIMismatchError(RMAbstractError):
    """A plugin built against another plugin ABI."""


class InternalError(RMAbstractError):
    """An internal inconsistency: a bug in rm_abstract."""


class NotInitializedError(RMAbstractError):
    """An API that needs rm_abstract.init() was called before it."""


class FallbackError(RMAbstractError):
    """With fallback="error": a model or call that would fall back to the original code."""
