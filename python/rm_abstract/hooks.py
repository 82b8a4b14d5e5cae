"""The zero-code-change hooks: after rm_abstract.init(), a causal LM loaded
with transformers' from_pretrained (auto classes and model classes alike)
runs generate(), forward() and __call__ on the rm_abstract LLM engine.

The model object stays what transformers returned (same class, same
attributes); only its instance gets `generate` and `forward` attributes,
and PreTrainedModel.from_pretrained is wrapped. shutdown() puts back the
original from_pretrained object and deletes those instance attributes, so
transformers is exactly as before.

The engine is built at the model's first generate/forward, from the
weights the model holds (wrapped without a copy on a host-memory device),
for the current device. Architectures, arguments or states the engine does
not cover run the original transformers code after one warning naming why
(FallbackError with init(fallback="error")).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import inspect
import sys
import threading
import warnings
import weakref
from typing import Any, Dict, List, Optional, Tuple

from . import _rma
from ._state import logger, state
from .errors import FallbackError, RMAbstractError

SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "mistral")  # SmolLM/SmolLM2 are llama

# Generation settings the engine path honours; any other setting that differs
# from transformers' default sends generate() to the original code.
_HONOURED_GENERATION_FIELDS = {
    "max_length", "max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "min_p",
    "repetition_penalty", "eos_token_id", "pad_token_id", "bos_token_id", "use_cache",
    "decoder_start_token_id", "transformers_version", "_from_model_config",
}

_lock = threading.RLock()
_original_from_pretrained: Any = None  # PreTrainedModel.__dict__["from_pretrained"]
_hooked: "weakref.WeakKeyDictionary[Any, _Runner]" = weakref.WeakKeyDictionary()
_passthrough = threading.local()  # set while the original generate runs


# ------------------------------------------------------------------ install

def _transformers_available() -> bool:
    return "transformers" in sys.modules or importlib.util.find_spec("transformers") is not None


def install() -> None:
    """Wraps PreTrainedModel.from_pretrained (idempotent; nothing when transformers is absent)."""
    global _original_from_pretrained
    with _lock:
        if _original_from_pretrained is not None or not _transformers_available():
            return
        from transformers.modeling_utils import PreTrainedModel

        original = PreTrainedModel.__dict__["from_pretrained"]
        load = original.__func__

        @functools.wraps(load)
        def from_pretrained(cls: Any, *args: Any, **kwargs: Any) -> Any:
            model = load(cls, *args, **kwargs)
            if state.initialized:
                attach(model)
            return model

        _original_from_pretrained = original
        PreTrainedModel.from_pretrained = classmethod(from_pretrained)


def uninstall() -> None:
    """Restores from_pretrained and every hooked model."""
    global _original_from_pretrained
    with _lock:
        for model in list(_hooked.keys()):
            detach(model)
        if _original_from_pretrained is not None:
            from transformers.modeling_utils import PreTrainedModel

            PreTrainedModel.from_pretrained = _original_from_pretrained
            _original_from_pretrained = None


def device_changed() -> None:
    """switch_device(): engines are rebuilt on the new device at their next call."""
    for runner in list(_hooked.values()):
        runner.drop_engine()


def is_hooked(model: Any) -> bool:
    return model in _hooked


# ------------------------------------------------------------------ models

def unsupported_reason(model: Any) -> Optional[str]:
    """Why the engine cannot run `model`, or None."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    name = type(model).__name__
    if model_type not in SUPPORTED_MODEL_TYPES:
        return (f"{name}: architecture '{model_type}' is not run by rm_abstract "
                f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
    if not name.endswith("ForCausalLM"):
        return f"{name}: only the causal LM classes (*ForCausalLM) run on rm_abstract"
    for flag in ("attention_bias", "mlp_bias"):
        if model_type != "qwen2" and getattr(config, flag, False):
            return f"{name}: config.{flag}=True is not supported by the engine"
    return None


def attach(model: Any) -> Any:
    """Gives `model` the engine-backed generate/forward (or warns and leaves it)."""
    with _lock:
        if model in _hooked:
            return model
        reason = unsupported_reason(model)
        if reason is not None:
            _fall_back(None, reason)
            return model
        runner = _Runner(model)
        _hooked[model] = runner
        for name in ("generate", "forward"):
            object.__setattr__(model, name, _like(getattr(model, name), getattr(runner, name)))
        logger.debug("%s hooked: generate/forward run on %s", type(model).__name__, state.device)
        return model


def detach(model: Any) -> None:
    runner = _hooked.pop(model, None)
    if runner is None:
        return
    for name in ("generate", "forward"):
        model.__dict__.pop(name, None)
    runner.drop_engine()


def _like(original: Any, replacement: Any) -> Any:
    """`replacement` looking like the bound method `original`: name, docs and
    signature (transformers inspects forward's parameters to decide what to
    pass, e.g. position_ids)."""

    def method(*args: Any, **kwargs: Any) -> Any:
        return replacement(*args, **kwargs)

    functools.update_wrapper(method, original)
    del method.__wrapped__  # the hook must not be mistaken for the original
    method.__signature__ = inspect.signature(original)
    return method


def _fall_back(runner: Optional["_Runner"], reason: str) -> None:
    if state.fallback == "error":
        raise FallbackError(reason)
    if runner is not None:
        if reason in runner.warned:
            return
        runner.warned.add(reason)
    warnings.warn(f"rm_abstract: {reason}; running the original transformers code",
                  RuntimeWarning, stacklevel=4)


@contextlib.contextmanager
def _original_code():
    """The original generate calls self(...): its forward calls go straight through."""
    previous = getattr(_passthrough, "active", False)
    _passthrough.active = True
    try:
        yield
    finally:
        _passthrough.active = previous


class _Unsupported(Exception):
    """A call the engine path does not cover; its message says why."""


# ------------------------------------------------------------------ runner

class _Runner:
    """The engine of one hooked model and its generate/forward."""

    def __init__(self, model: Any) -> None:
        # Weak: the model holds this runner (its generate/forward attributes).
        self._model_ref = weakref.ref(model)
        self._forward_signature = inspect.signature(type(model).forward)
        self._engine: Any = None
        self._engine_device: Optional[str] = None
        self._busy = threading.Lock()  # one call at a time uses the engine's sequences
        self.warned: set = set()

    @property
    def model(self) -> Any:
        model = self._model_ref()
        if model is None:
            raise RMAbstractError("the hooked model no longer exists")
        return model

    def _orig_generate(self, *args: Any, **kwargs: Any) -> Any:
        model = self.model
        return type(model).generate(model, *args, **kwargs)

    def _orig_forward(self, *args: Any, **kwargs: Any) -> Any:
        model = self.model
        return type(model).forward(model, *args, **kwargs)

    def drop_engine(self) -> None:
        self._engine = None
        self._engine_device = None

    # -------------------------------------------------------------- engine
    def engine(self) -> Any:
        device = state.device
        if self._engine is not None and self._engine_device == device:
            return self._engine
        self._engine = None
        model = self.model
        params = [(n, t) for n, t in model.state_dict().items()]
        info = _rma.device_info(device)
        if "host_memory" not in info["capabilities"]:
            needed = sum(t.numel() * 4 for _, t in params)  # f32 at most
            if needed > info["memory_free"]:
                raise _Unsupported(f"{type(model).__name__} needs about {needed} bytes on {device}, "
                                   f"which has {info['memory_free']} free")
        tensors: List[Tuple[str, Any]] = []
        for name, t in params:
            if t.device.type == "meta":
                raise _Unsupported(f"weight {name} is not loaded (meta device)")
            tensors.append((name, t.detach().cpu().contiguous()))
        try:
            self._engine = _rma.Engine.from_memory(
                model.config.to_json_string(use_diff=False), tensors, tensors,
                str(getattr(model, "name_or_path", "") or type(model).__name__), device,
            )
        except RMAbstractError as e:
            raise _Unsupported(f"the engine cannot run this model: {e}") from None
        self._engine_device = device
        logger.debug("engine for %s on %s", type(model).__name__, device)
        return self._engine

    # -------------------------------------------------------------- forward
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if getattr(_passthrough, "active", False) or not state.initialized:
            return self._orig_forward(*args, **kwargs)
        try:
            with self._busy:
                return self._forward(*args, **kwargs)
        except _Unsupported as e:
            _fall_back(self, str(e))
            with _original_code():
                return self._orig_forward(*args, **kwargs)

    def _forward(self, *args: Any, **kwargs: Any) -> Any:
        import torch
        from transformers.modeling_outputs import CausalLMOutputWithPast

        try:
            bound = self._forward_signature.bind(self.model, *args, **kwargs)
        except TypeError as e:
            raise _Unsupported(f"forward arguments: {e}") from None
        a = dict(bound.arguments)
        a.pop("self", None)
        extra = a.pop("kwargs", {}) or {}
        input_ids = a.pop("input_ids", None)
        attention_mask = a.pop("attention_mask", None)
        return_dict = a.pop("return_dict", None)
        logits_to_keep = a.pop("logits_to_keep", 0)
        a.pop("use_cache", None)
        for name, value in list(a.items()) + list(extra.items()):
            if value is not None and value is not False:
                raise _Unsupported(f"forward argument '{name}' is not supported by the engine path")
        if input_ids is None:
            raise _Unsupported("forward without input_ids")
        if not isinstance(logits_to_keep, int):
            raise _Unsupported("logits_to_keep given as indices")
        rows = _rows(input_ids, attention_mask)
        engine = self.engine()
        batch, length = input_ids.shape
        logits = torch.zeros(batch, length, engine.vocab, dtype=torch.float32)
        for chunk in _chunks(list(range(batch)), 8):
            seqs = [engine.new_sequence() for _ in chunk]
            try:
                out = engine.forward(seqs, [rows[r] for r in chunk], True)
            finally:
                for s in seqs:
                    engine.free_sequence(s)
            out = torch.from_numpy(out)
            at = 0
            for r in chunk:
                n = len(rows[r])
                logits[r, length - n:] = out[at:at + n]
                at += n
        if logits_to_keep:
            logits = logits[:, -logits_to_keep:]
        logits = logits.to(device=input_ids.device, dtype=self.model.dtype)
        if return_dict is False:
            return (logits,)
        return CausalLMOutputWithPast(logits=logits)

    # -------------------------------------------------------------- generate
    def generate(self, inputs: Any = None, generation_config: Any = None, **kwargs: Any) -> Any:
        if getattr(_passthrough, "active", False) or not state.initialized:
            return self._orig_generate(inputs, generation_config, **kwargs)
        try:
            plan = self._plan_generate(inputs, generation_config, dict(kwargs))
            with self._busy:
                return self._generate(*plan)
        except _Unsupported as e:
            _fall_back(self, str(e))
            with _original_code():
                return self._orig_generate(inputs, generation_config, **kwargs)

    def _plan_generate(self, inputs: Any, generation_config: Any, kwargs: Dict[str, Any]):
        import torch
        from transformers import GenerationConfig

        input_ids = kwargs.pop("input_ids", None) if inputs is None else inputs
        attention_mask = kwargs.pop("attention_mask", None)
        streamer = kwargs.pop("streamer", None)
        for name in ("logits_processor", "stopping_criteria", "prefix_allowed_tokens_fn",
                     "synced_gpus", "assistant_model", "negative_prompt_ids",
                     "negative_prompt_attention_mask", "custom_generate"):
            if kwargs.get(name) is not None:
                raise _Unsupported(f"generate argument '{name}' is not supported by the engine path")
            kwargs.pop(name, None)
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            raise _Unsupported("generate needs input_ids as a [batch, length] tensor")
        base = generation_config if generation_config is not None else self.model.generation_config
        gc = copy.deepcopy(base)
        unused = gc.update(**kwargs)
        unused = {k: v for k, v in (unused or {}).items() if v is not None}
        if unused:
            raise _Unsupported(f"generate argument(s) {', '.join(sorted(unused))} not supported by the engine path")
        defaults = _generation_defaults(GenerationConfig)
        settings = {k: v for k, v in gc.to_dict().items()}
        for key, value in settings.items():
            if key in _HONOURED_GENERATION_FIELDS or value is None:
                continue
            if value == defaults.get(key, False) or (key not in defaults and not value):
                continue
            raise _Unsupported(f"generation setting {key}={value!r} is not supported by the engine path")

        def setting(key: str) -> Any:
            v = settings.get(key)
            return defaults.get(key) if v is None else v

        length = input_ids.shape[1]
        max_new = setting("max_new_tokens")
        if max_new is None:
            max_new = setting("max_length") - length
        if max_new <= 0:
            raise _Unsupported(f"max_length {setting('max_length')} leaves no new token after {length} prompt tokens")
        eos = setting("eos_token_id")
        eos_ids = [] if eos is None else ([int(eos)] if isinstance(eos, int) else [int(e) for e in eos])
        pad = setting("pad_token_id")
        if pad is None and eos_ids:
            pad = eos_ids[0]
        sampling = dict(
            do_sample=bool(setting("do_sample")), temperature=float(setting("temperature")),
            top_k=int(setting("top_k") or 0), top_p=float(setting("top_p")),
            min_p=setting("min_p"), repetition_penalty=float(setting("repetition_penalty")),
        )
        rows = _rows(input_ids, attention_mask)
        return input_ids, rows, int(max_new), eos_ids, pad, sampling, streamer

    def _generate(self, input_ids: Any, rows: List[List[int]], max_new: int, eos_ids: List[int],
                  pad: Optional[int], sampling: Dict[str, Any], streamer: Any) -> Any:
        import torch

        engine = self.engine()
        if input_ids.shape[1] + max_new > engine.max_context:
            raise _Unsupported(f"{input_ids.shape[1]} prompt + {max_new} new tokens exceed the "
                               f"engine's context of {engine.max_context}")
        processors = _logits_processors(sampling)
        ids = input_ids.to("cpu", torch.long)
        if streamer is not None:
            streamer.put(ids)
        batch = ids.shape[0]
        new_tokens = torch.full((batch, max_new), pad if pad is not None else 0, dtype=torch.long)
        steps = 0
        for chunk in _chunks(list(range(batch)), 8):
            steps = max(steps, self._generate_chunk(engine, ids, rows, chunk, max_new, eos_ids, pad,
                                                    sampling, processors, new_tokens, streamer))
        if streamer is not None:
            streamer.end()
        out = torch.cat([ids, new_tokens[:, :steps]], dim=1)
        return out.to(input_ids.device)

    def _generate_chunk(self, engine: Any, ids: Any, rows: List[List[int]], chunk: List[int],
                        max_new: int, eos_ids: List[int], pad: Optional[int],
                        sampling: Dict[str, Any], processors: List[Any], new_tokens: Any,
                        streamer: Any) -> int:
        import torch

        seqs = [engine.new_sequence() for _ in chunk]
        try:
            history = ids[chunk].clone()  # what the repetition penalty sees, pads included
            unfinished = torch.ones(len(chunk), dtype=torch.bool)
            alive = list(range(len(chunk)))  # positions in `chunk` still running
            feed = [rows[r] for r in chunk]
            eos = torch.tensor(eos_ids, dtype=torch.long) if eos_ids else None
            steps = 0
            for step in range(max_new):
                logits = torch.from_numpy(engine.forward([seqs[i] for i in alive], feed))
                scores = torch.full((len(chunk), logits.shape[1]), 0.0, dtype=torch.float32)
                scores[alive] = logits
                for p in processors:
                    scores = p(history, scores)
                if sampling["do_sample"]:
                    probs = torch.nn.functional.softmax(scores, dim=-1)
                    next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)
                else:
                    next_tokens = torch.argmax(scores, dim=-1)
                if pad is not None:
                    next_tokens = torch.where(unfinished, next_tokens, torch.tensor(pad))
                history = torch.cat([history, next_tokens[:, None]], dim=1)
                new_tokens[chunk, step] = next_tokens
                steps = step + 1
                if streamer is not None:
                    streamer.put(next_tokens.cpu())
                if eos is not None:
                    unfinished &= ~torch.isin(next_tokens, eos)
                if not bool(unfinished.any()):
                    break
                alive = [i for i in range(len(chunk)) if bool(unfinished[i])]
                feed = [[int(next_tokens[i])] for i in alive]
            return steps
        finally:
            for s in seqs:
                engine.free_sequence(s)


# ------------------------------------------------------------------ helpers

def _generation_defaults(generation_config_cls: Any) -> Dict[str, Any]:
    get = getattr(generation_config_cls, "_get_default_generation_params", None)
    if get is not None:
        return dict(get())
    return {k: v for k, v in generation_config_cls().to_dict().items()}


def _logits_processors(sampling: Dict[str, Any]) -> List[Any]:
    """transformers' own processors, in the order its generate() applies them."""
    from transformers.generation import logits_process as lp

    out: List[Any] = []
    if sampling["repetition_penalty"] != 1.0:
        out.append(lp.RepetitionPenaltyLogitsProcessor(penalty=sampling["repetition_penalty"]))
    if sampling["do_sample"]:
        if sampling["temperature"] != 1.0:
            out.append(lp.TemperatureLogitsWarper(sampling["temperature"]))
        if sampling["top_k"]:
            out.append(lp.TopKLogitsWarper(top_k=sampling["top_k"], min_tokens_to_keep=1))
        if sampling["top_p"] < 1.0:
            out.append(lp.TopPLogitsWarper(top_p=sampling["top_p"], min_tokens_to_keep=1))
        if sampling["min_p"] is not None and sampling["min_p"] > 0:
            out.append(lp.MinPLogitsWarper(min_p=sampling["min_p"], min_tokens_to_keep=1))
    return out


def _rows(input_ids: Any, attention_mask: Any) -> List[List[int]]:
    """Each row's tokens without its left padding; anything but left padding is unsupported."""
    import torch

    if input_ids.dim() != 2:
        raise _Unsupported(f"input_ids of shape {tuple(input_ids.shape)}; expected [batch, length]")
    ids = input_ids.to("cpu")
    if attention_mask is None:
        return [row.tolist() for row in ids]
    mask = attention_mask.to("cpu").to(torch.bool)
    if mask.shape != ids.shape:
        raise _Unsupported(f"attention_mask shape {tuple(mask.shape)} differs from input_ids' {tuple(ids.shape)}")
    rows = []
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        if n == 0:
            raise _Unsupported(f"row {b} of attention_mask is all zeros")
        if not bool(mask[b, ids.shape[1] - n:].all()):
            raise _Unsupported("attention_mask is not left padding (zeros, then ones)")
        rows.append(ids[b, ids.shape[1] - n:].tolist())
    return rows


def _chunks(items: List[int], size: int) -> List[List[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
