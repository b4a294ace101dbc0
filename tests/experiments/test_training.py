"""The shared training loop: deterministic for a seed, PReLU slopes trained and
kept out of weight decay, the same numbers sharded over eight devices as on one.

Apart from test_experiments.py so that the two files, each a few tiny training
runs, can run on different workers (`make test` distributes by file).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np

from experiments import training
from experiments.common import RunOptions, load_data

REPO = Path(__file__).resolve().parents[2]


TINY = training.TrainConfig(
    "prelu", hidden=(16,), steps=20, batch_size=64, learning_rates=(0.01, 0.1), num_seeds=2,
    eval_every=10, weight_decay=1e-3,
)


def _tiny_numbers() -> dict[str, np.ndarray]:
    """A fresh training run each call (the determinism test needs two)."""
    result = training.train(TINY, load_data(RunOptions()))
    return {
        "loss": result.train_loss,
        "test_accuracy": result.test_accuracy,
        "kernel": np.asarray(result.params["dense"][0]["kernel"]),
        "slopes": np.asarray(result.params["activation"][0].negative_slope),
    }


@functools.cache
def _tiny_numbers_once() -> dict[str, np.ndarray]:
    return _tiny_numbers()


def test_training_is_deterministic_for_a_seed():
    first, second = _tiny_numbers_once(), _tiny_numbers()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    # Different learning rates and seeds really are different runs.
    assert not np.array_equal(first["kernel"][0], first["kernel"][1])
    assert not np.array_equal(first["kernel"][:, 0], first["kernel"][:, 1])


def test_prelu_slopes_are_trained_and_masked_from_weight_decay():
    numbers = _tiny_numbers_once()
    assert not np.allclose(numbers["slopes"], training.PRELU_INIT_SLOPE)
    params = training.init_runs(TINY, 64, 10)
    mask = training.decay_mask(jax.tree_util.tree_map(lambda leaf: leaf[0, 0], params))
    assert mask["activation"][0].negative_slope is False
    assert mask["dense"][0] == {"kernel": True, "bias": False}


def test_sharded_over_eight_devices_equals_one_device(tmp_path):
    assert jax.device_count() == 8, "tests/conftest.py sets 8 host devices"
    assert training.make_mesh(TINY.batch_size).devices.size == 8
    sharded = _tiny_numbers_once()

    script = textwrap.dedent(
        f"""
        import numpy as np
        import jax
        assert jax.device_count() == 1
        import sys
        sys.path.insert(0, {str(REPO / "tests" / "experiments")!r})
        from test_training import _tiny_numbers
        np.savez({str(tmp_path / "one.npz")!r}, **_tiny_numbers())
        """
    )
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
           "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=REPO, timeout=300)
    one_device = np.load(tmp_path / "one.npz")
    for key, value in sharded.items():
        # Only the order of the batch reductions differs.
        np.testing.assert_allclose(value, one_device[key], rtol=1e-4, atol=1e-5, err_msg=key)


