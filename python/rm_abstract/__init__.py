"""rm_abstract: the RM Abstract Layer from Python.

    import rm_abstract
    rm_abstract.init(device="auto")   # or "cpu", "opencl:0", "cuda:0"; RM_DEVICE overrides it
    # ... unchanged Hugging Face transformers code now runs generate/forward on the device

Also: per-op functions (rm_abstract.ops.<op>) on numpy arrays and DLPack
tensors, and sessions over .onnx/.rmx models (rm_abstract.Session,
rm_abstract.compile). See docs/python.md.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from . import _rma
from ._state import (
    check_compile_options,
    current_device,
    ensure_log_handler,
    environment_override,
    logger,
    resolve_device,
    state,
)
from .errors import (
    ABIMismatchError,
    DeviceError,
    DeviceNotFoundError,
    FallbackError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotInitializedError,
    OutOfMemoryError,
    RMAbstractError,
    UnsupportedError,
)
from .session import Session, compile
from . import ops

__version__: str = _rma.__version__

__all__ = [
    "init",
    "shutdown",
    "is_initialized",
    "switch_device",
    "get_device",
    "get_device_info",
    "get_available_backends",
    "list_devices",
    "Session",
    "compile",
    "ops",
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
    "__version__",
]


def init(
    device: str = "auto",
    cache_dir: Optional[str] = None,
    compile_options: Optional[Dict[str, Any]] = None,
    verbose: bool = False,
    fallback: str = "warn",
) -> str:
    """Starts rm_abstract on `device` and installs the transformers hooks.

    RM_DEVICE and RM_CACHE_DIR, when set, override `device` and `cache_dir`
    (each override is logged once). `compile_options` are the defaults of
    Session/compile (opt_level, batch_size, dims, strict, use_cache).
    `fallback`: "warn" runs unsupported models and arguments with the
    original transformers code after one warning; "error" raises
    FallbackError instead. Calling init again switches settings; returns the
    device name chosen ("auto" resolved).
    """
    if fallback not in ("warn", "error"):
        raise InvalidArgumentError(f"fallback: expected 'warn' or 'error', got {fallback!r}")
    options = check_compile_options(compile_options)
    ensure_log_handler()
    device = environment_override("RM_DEVICE", device)
    cache_dir = environment_override("RM_CACHE_DIR", cache_dir)
    # The runtime's own default stays "auto" (or RM_DEVICE): init's device is
    # this package's choice, switchable later, not a process-wide setting.
    started = _rma.start(os.environ.get("RM_DEVICE") or "auto", cache_dir or "",
                         "debug" if verbose else None)
    if not started and cache_dir and cache_dir != _rma.config()["cache_dir"]:
        logger.warning(
            "cache_dir %s: the runtime already runs with %s (set before the first init or op call)",
            cache_dir,
            _rma.config()["cache_dir"],
        )
    resolved = resolve_device(device or "auto")
    state.requested_device = device or "auto"
    state.device = resolved
    state.cache_dir = _rma.config()["cache_dir"]
    state.compile_options = options
    state.verbose = bool(verbose)
    state.fallback = fallback
    state.initialized = True
    if verbose:
        logger.setLevel("DEBUG")
    logger.debug("initialized on %s (cache %s)", resolved, state.cache_dir)
    from . import hooks

    hooks.install()
    return resolved


def shutdown() -> None:
    """Undoes init(): every transformers hook is removed (classes and models as they were)."""
    from . import hooks

    hooks.uninstall()
    state.initialized = False
    state.device = None


def is_initialized() -> bool:
    return state.initialized


def switch_device(device: str) -> str:
    """Moves later work (ops, hooked models) to `device`; returns its name."""
    if not state.initialized:
        raise NotInitializedError("switch_device: call rm_abstract.init() first")
    resolved = resolve_device(device)
    if resolved != state.device:
        state.device = resolved
        from . import hooks

        hooks.device_changed()
    return resolved


def get_device() -> str:
    """The device work runs on now (init's, else the runtime's default)."""
    return current_device()


def get_device_info(device: Optional[str] = None) -> Dict[str, Any]:
    """Properties of `device` (default: the current one): name, plugin, type, model, vendor,
    driver, arch, compute_units, memory_total/free, capabilities, pool usage."""
    return _rma.device_info(resolve_device(device) if device else current_device())


def list_devices() -> List[Dict[str, Any]]:
    """get_device_info() of every device present."""
    return _rma.devices()


def get_available_backends() -> List[str]:
    """Names of the plugins loaded with at least one device ("cpu", "opencl", "cuda", ...)."""
    return [p["name"] for p in _rma.plugins() if p["devices"] > 0]
