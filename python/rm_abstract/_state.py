"""Process-wide state of rm_abstract: whether init() ran, the chosen device,
the options it was given, and a log line per environment override."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Set, Tuple

from . import _rma
from .errors import DeviceNotFoundError, InvalidArgumentError, NotFoundError

logger = logging.getLogger("rm_abstract")

# Keys init(compile_options=...) accepts: what Session/compile take by default.
COMPILE_OPTION_KEYS = ("opt_level", "batch_size", "dims", "strict", "use_cache")


@dataclass
class State:
    initialized: bool = False
    device: Optional[str] = None  # the resolved device name ("cpu", "opencl:0")
    requested_device: str = "auto"
    cache_dir: Optional[str] = None
    compile_options: Dict[str, Any] = field(default_factory=dict)
    verbose: bool = False
    fallback: str = "warn"
    noted_overrides: Set[Tuple[str, str]] = field(default_factory=set)


state = State()


def ensure_log_handler() -> None:
    """rm_abstract's messages reach stderr unless the application set logging up."""
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("rm_abstract: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def environment_override(variable: str, given: Optional[str]) -> Optional[str]:
    """The value of `variable` when set (logged once per value), else `given`."""
    value = os.environ.get(variable)
    if not value:
        return given
    if value != given and (variable, value) not in state.noted_overrides:
        state.noted_overrides.add((variable, value))
        logger.info("%s=%s overrides %r given to init()", variable, value, given)
    return value


def resolve_device(spec: str) -> str:
    """The canonical device name; an unknown one raises DeviceNotFoundError listing those present."""
    if not isinstance(spec, str) or not spec:
        raise InvalidArgumentError(f"device: expected a string such as 'cpu', 'opencl:0' or 'auto', got {spec!r}")
    try:
        return _rma.resolve_device(spec)
    except NotFoundError as e:
        raise DeviceNotFoundError(str(e)) from None


def current_device() -> str:
    """The device ops and hooks run on: init()'s, else the runtime's default (RM_DEVICE, auto)."""
    if state.initialized and state.device:
        return state.device
    return _rma.default_device()


def check_compile_options(options: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise InvalidArgumentError(f"compile_options: expected a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(COMPILE_OPTION_KEYS))
    if unknown:
        raise InvalidArgumentError(
            f"compile_options: unknown key(s) {', '.join(unknown)}; known: {', '.join(COMPILE_OPTION_KEYS)}"
        )
    return dict(options)
