"""Sessions: run an .onnx model (compiled for the device through the compile
cache) or a compiled .rmx with named inputs and outputs (docs/session.md)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from . import _rma
from ._arrays import framework_of, to_host_contiguous
from ._state import current_device, resolve_device, state
from .errors import InvalidArgumentError

__all__ = ["Session", "compile"]

IoSpec = Tuple[str, str, List[Union[int, str]]]  # (name, dtype, shape with symbols as str)


def _options(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    merged = {"opt_level": 2, "batch_size": None, "dims": {}, "strict": False, "use_cache": True}
    merged.update(state.compile_options)
    merged.update({k: v for k, v in kwargs.items() if v is not None})
    return merged


class Session:
    """A model file ready to run on a device.

    >>> s = rm_abstract.Session("model.onnx", device="cpu")
    >>> out = s.run({"x": x})            # numpy or torch in, the same kind out
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        device: Optional[str] = None,
        *,
        opt_level: Optional[int] = None,
        batch_size: Optional[int] = None,
        dims: Optional[Mapping[str, int]] = None,
        strict: Optional[bool] = None,
        use_cache: Optional[bool] = None,
    ) -> None:
        o = _options(
            dict(opt_level=opt_level, batch_size=batch_size, dims=dict(dims) if dims else None,
                 strict=strict, use_cache=use_cache)
        )
        target = resolve_device(device) if device else (current_device() if state.initialized else "auto")
        self._session = _rma.Session.open(
            os.fspath(path), target, int(o["opt_level"]), o["batch_size"], dict(o["dims"]),
            bool(o["strict"]), bool(o["use_cache"]),
        )

    @property
    def inputs(self) -> List[IoSpec]:
        return self._session.inputs

    @property
    def outputs(self) -> List[IoSpec]:
        return self._session.outputs

    @property
    def device(self) -> str:
        return self._session.device

    @property
    def path(self) -> str:
        return self._session.path

    @property
    def cache_hit(self) -> bool:
        """Whether opening was served by the compile cache."""
        return self._session.cache_hit

    def report(self) -> str:
        """Placement of the last run: node -> device, fallbacks, copies."""
        return self._session.report()

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the compiled model as an .rmx."""
        self._session.save(os.fspath(path))

    def run(self, inputs: Mapping[str, Any]) -> Dict[str, Any]:
        """Named inputs (numpy arrays or DLPack tensors) -> named outputs of the same kind."""
        if not isinstance(inputs, Mapping):
            raise InvalidArgumentError(f"inputs: expected a dict name -> array, got {type(inputs).__name__}")
        frameworks = {framework_of(v) for v in inputs.values()}
        framework = "torch" if "torch" in frameworks else "numpy"
        host = {name: to_host_contiguous(v, f"input '{name}'") for name, v in inputs.items()}
        return self._session.run(host, framework)

    def __repr__(self) -> str:
        return f"rm_abstract.Session({self.path!r}, device={self.device!r})"


def compile(
    model: Union[str, os.PathLike],
    output: Optional[Union[str, os.PathLike]] = None,
    *,
    target: Optional[str] = None,
    opt_level: Optional[int] = None,
    batch_size: Optional[int] = None,
    dims: Optional[Mapping[str, int]] = None,
    strict: Optional[bool] = None,
    use_cache: Optional[bool] = None,
) -> str:
    """Compiles an .onnx model for `target` (through the compile cache) into an
    .rmx (default: the model's path with .rmx); returns the .rmx path."""
    model = os.fspath(model)
    out = os.fspath(output) if output is not None else os.path.splitext(model)[0] + ".rmx"
    s = Session(model, target, opt_level=opt_level, batch_size=batch_size, dims=dims,
                strict=strict, use_cache=use_cache)
    s.save(out)
    return out
