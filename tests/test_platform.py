"""CPU-only tricks are taken only for arrays on a CPU device.

The eager chunked loop (jvp.kernel) answers the XLA CPU client's threading
rule; on a GPU or TPU it would only turn one kernel into a device loop. No
accelerator is assumed here: the device a sharding names is faked.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxact._src import jvp


def _fresh_kernel():
    """A kernel of its own, so that its executables' cache sizes count this test's calls."""
    def value_and_derivative(x):
        return x * x, 2 * x

    return jvp.unary_activation(value_and_derivative)


def _jitted(kernel):
    """The two executables a kernel chooses between: (whole kernel, chunked loop)."""
    def contents(cell):
        try:
            return cell.cell_contents
        except ValueError:  # the default-parameter kernels of a unary function
            return None

    jitted = [contents(cell) for cell in kernel.__closure__]
    (whole,) = [f for f in jitted if hasattr(f, "_cache_size") and f is not kernel.in_chunks]
    return whole, kernel.in_chunks


@dataclasses.dataclass(frozen=True)
class _FakeDevice:
    platform: str


@dataclasses.dataclass(frozen=True)
class _FakeSharding:
    device: _FakeDevice

    @property
    def device_set(self):
        return {self.device}


def test_on_one_cpu_device_reads_the_platform(monkeypatch):
    # The predicate takes a one-device sharding only when that device is a
    # CPU: the same sharding type on a "cuda" or "tpu" device is refused.
    monkeypatch.setitem(jvp._SINGLE_DEVICE_TYPES, _FakeSharding, True)
    assert jvp._on_one_cpu_device(_FakeSharding(_FakeDevice("cpu")))
    for platform in ("cuda", "rocm", "tpu", "METAL"):
        assert not jvp._on_one_cpu_device(_FakeSharding(_FakeDevice(platform))), platform


def test_chunked_path_is_taken_for_a_small_array_on_the_cpu():
    kernel = _fresh_kernel()
    whole, chunked = _jitted(kernel)
    x = jnp.linspace(-3.0, 3.0, 100, dtype=jnp.float32)
    assert x.devices().pop().platform == "cpu"
    assert jvp._on_one_cpu_device(x.sharding)
    assert jvp._runs_in_chunks((x,), jvp.EAGER_CHUNK)
    got = kernel(x)
    assert (whole._cache_size(), chunked._cache_size()) == (0, 1)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(x) * np.asarray(x))


def test_whole_kernel_runs_for_an_array_on_another_platform(monkeypatch):
    # An array on a GPU or TPU: faked by making every device read as not a
    # CPU. The eager call must run the whole kernel and never the loop.
    kernel = _fresh_kernel()
    whole, chunked = _jitted(kernel)
    monkeypatch.setattr(jvp, "_on_one_cpu_device", lambda sharding: False)
    x = jnp.linspace(-3.0, 3.0, 100, dtype=jnp.float32)
    assert not jvp._runs_in_chunks((x,), jvp.EAGER_CHUNK)
    got = kernel(x)
    assert (whole._cache_size(), chunked._cache_size()) == (1, 0)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(x) * np.asarray(x))


def test_chunked_path_is_not_taken_across_devices_or_on_a_mesh():
    # Several CPU devices (tests/conftest.py asks for 8), or a one-device
    # mesh with explicit axes, where the loop's row updates would need an
    # output sharding: the whole kernel runs, with the input's sharding.
    x = jnp.linspace(-3.0, 3.0, 64, dtype=jnp.float32).reshape(32, 2)
    devices = np.asarray(jax.devices()[:8])
    spread = jax.device_put(x, NamedSharding(Mesh(devices, ("d",)), P("d")))
    assert not jvp._runs_in_chunks((spread,), jvp.EAGER_CHUNK)
    mesh = jax.make_mesh((1,), ("d",), axis_types=(AxisType.Explicit,))
    one = jax.device_put(x, NamedSharding(mesh, P("d")))
    assert not jvp._runs_in_chunks((one,), jvp.EAGER_CHUNK)
    kernel = _fresh_kernel()
    for y in (spread, one):
        got = kernel(y)
        assert got.sharding.is_equivalent_to(y.sharding, y.ndim)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(x) * np.asarray(x))
