"""init/shutdown, devices, backends, errors, environment overrides and
`python -m rm_abstract`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import rm_abstract
from rm_abstract import errors


def run_python(code: str, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)


def test_init_and_shutdown(device):
    assert rm_abstract.init(device=device) == device
    assert rm_abstract.is_initialized()
    assert rm_abstract.get_device() == device
    rm_abstract.shutdown()
    assert not rm_abstract.is_initialized()


def test_auto_resolves_to_a_present_device():
    name = rm_abstract.init(device="auto")
    try:
        assert name in [d["name"] for d in rm_abstract.list_devices()]
    finally:
        rm_abstract.shutdown()


def test_device_info_and_backends():
    info = rm_abstract.get_device_info("cpu")
    assert info["name"] == "cpu" and info["type"] == "cpu"
    assert info["memory_total"] > 0 and "host_memory" in info["capabilities"]
    assert "cpu" in rm_abstract.get_available_backends()
    names = [d["name"] for d in rm_abstract.list_devices()]
    assert "cpu" in names


def test_unknown_device_lists_those_present():
    with pytest.raises(rm_abstract.DeviceNotFoundError) as e:
        rm_abstract.init(device="nosuch:3")
    assert "cpu" in str(e.value)
    assert isinstance(e.value, LookupError) and isinstance(e.value, rm_abstract.RMAbstractError)
    assert not rm_abstract.is_initialized()


def test_bad_options():
    with pytest.raises(ValueError, match="fallback"):
        rm_abstract.init(fallback="maybe")
    with pytest.raises(ValueError, match="compile_options: unknown key"):
        rm_abstract.init(compile_options={"speed": 3})


def test_switch_device_needs_init_and_a_known_device(device):
    with pytest.raises(rm_abstract.NotInitializedError):
        rm_abstract.switch_device("cpu")
    rm_abstract.init(device="cpu")
    try:
        assert rm_abstract.switch_device(device) == device
        assert rm_abstract.get_device() == device
        with pytest.raises(rm_abstract.DeviceNotFoundError):
            rm_abstract.switch_device("nosuch:0")
    finally:
        rm_abstract.shutdown()


def test_hierarchy():
    for cls in (errors.InvalidArgumentError, errors.NotFoundError, errors.DeviceNotFoundError,
                errors.UnsupportedError, errors.OutOfMemoryError, errors.DeviceError,
                errors.ABIMismatchError, errors.InternalError, errors.NotInitializedError,
                errors.FallbackError):
        assert issubclass(cls, rm_abstract.RMAbstractError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.OutOfMemoryError, MemoryError)
    assert issubclass(errors.UnsupportedError, NotImplementedError)


def test_core_errors_carry_code_op_and_device():
    import numpy as np

    with pytest.raises(rm_abstract.InvalidArgumentError) as e:
        rm_abstract.ops.rms_norm(np.ones((2, 8), np.float32), np.ones(4, np.float32), device="cpu")
    assert e.value.code == "invalid_argument" or e.value.code
    assert e.value.op == "rms_norm"


def test_environment_overrides_are_logged_once(tmp_path):
    code = (
        "import rm_abstract\n"
        "print(rm_abstract.init(device='nosuch:9', cache_dir='/nonexistent/x'))\n"
        "rm_abstract.shutdown()\n"
        "print(rm_abstract.init(device='nosuch:9'))\n"
        "import rm_abstract._rma as r; print(r.config()['cache_dir'])\n"
    )
    cache = str(tmp_path / "cache")
    p = run_python(code, {"RM_DEVICE": "cpu", "RM_CACHE_DIR": cache})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["cpu", "cpu", cache]
    assert p.stderr.count("RM_DEVICE=cpu overrides") == 1, p.stderr
    assert p.stderr.count("RM_CACHE_DIR=") == 1, p.stderr


def test_cli_info_mirrors_rma():
    p = subprocess.run([sys.executable, "-m", "rm_abstract", "info", "--json"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    import json

    info = json.loads(p.stdout)
    assert "cpu" in [d["name"] for d in info["devices"]]
    assert info["version"] == rm_abstract.__version__


def test_cli_ops_and_test():
    p = subprocess.run([sys.executable, "-m", "rm_abstract", "ops"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert "rms_norm" in p.stdout
    p = subprocess.run([sys.executable, "-m", "rm_abstract", "test", "cpu", "--op", "add"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    p = subprocess.run([sys.executable, "-m", "rm_abstract", "nosuch"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 2 and "unknown command" in p.stderr


def test_cli_bench_is_there():
    p = subprocess.run([sys.executable, "-m", "rm_abstract", "bench", "--help"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "ops" in p.stdout
