"""The experiments suite: a quick run end to end, determinism, sharding (resuming: test_runner.py).

The quick run is shared by the tests of this file (a module fixture): it is
the expensive part, and each test checks a different property of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import EXPERIMENT_NAMES, training
from experiments.__main__ import main
from experiments.common import RunOptions, load_data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quick")
    assert main(["all", "--quick", "--seeds", "2", "--out", str(out)]) == 0
    return out


def test_every_experiment_writes_png_json_and_report_rows(quick_run):
    claims = []
    for name in EXPERIMENT_NAMES:
        png = quick_run / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        results = json.loads((quick_run / f"{name}.json").read_text())
        assert results["meta"]["experiment"] == name
        assert results["meta"]["quick"] is True
        assert results["claims"], f"{name} states no claim"
        claims += results["claims"]
    report = (quick_run / "REPORT.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(claims) + 1  # the header row
    for row, expected in zip(rows[1:], claims, strict=True):
        assert expected["claim"].replace("|", "\\|") in row
        assert f"**{expected['verdict']}**" in row
        verdict = expected["verdict"]
        assert verdict in ("holds", "does not hold") or verdict.startswith("depends on "), verdict


def test_no_temporary_files_left(quick_run):
    assert not [path.name for path in quick_run.iterdir() if path.name.endswith(".tmp")]


def test_missing_data_dir_is_one_clear_error(tmp_path, capsys):
    missing = tmp_path / "no-such-dir"
    code = main(["prelu", "--quick", "--dataset", "mnist", "--data-dir", str(missing),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "out" / "prelu.json").exists()


TINY = training.TrainConfig(
    "prelu", hidden=(16,), steps=20, batch_size=64, learning_rates=(0.01, 0.1), num_seeds=2,
    eval_every=10, weight_decay=1e-3,
)


def _tiny_numbers() -> dict[str, np.ndarray]:
    result = training.train(TINY, load_data(RunOptions()))
    return {
        "loss": result.train_loss,
        "test_accuracy": result.test_accuracy,
        "kernel": np.asarray(result.params["dense"][0]["kernel"]),
        "slopes": np.asarray(result.params["activation"][0].negative_slope),
    }


def test_training_is_deterministic_for_a_seed():
    first, second = _tiny_numbers(), _tiny_numbers()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    # Different learning rates and seeds really are different runs.
    assert not np.array_equal(first["kernel"][0], first["kernel"][1])
    assert not np.array_equal(first["kernel"][:, 0], first["kernel"][:, 1])


def test_prelu_slopes_are_trained_and_masked_from_weight_decay():
    numbers = _tiny_numbers()
    assert not np.allclose(numbers["slopes"], training.PRELU_INIT_SLOPE)
    params = training.init_runs(TINY, 64, 10)
    mask = training.decay_mask(jax.tree_util.tree_map(lambda leaf: leaf[0, 0], params))
    assert mask["activation"][0].negative_slope is False
    assert mask["dense"][0] == {"kernel": True, "bias": False}


def test_sharded_over_eight_devices_equals_one_device(tmp_path):
    assert jax.device_count() == 8, "tests/conftest.py sets 8 host devices"
    assert training.make_mesh(TINY.batch_size).devices.size == 8
    sharded = _tiny_numbers()

    script = textwrap.dedent(
        f"""
        import numpy as np
        import jax
        assert jax.device_count() == 1
        import sys
        sys.path.insert(0, {str(REPO / "tests" / "experiments")!r})
        from test_experiments import _tiny_numbers
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


def test_report_command_redraws_from_json_alone(quick_run):
    report = (quick_run / "REPORT.md").read_text()
    (quick_run / "curves.png").unlink()
    assert main(["report", "--out", str(quick_run)]) == 0
    assert (quick_run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (quick_run / "REPORT.md").read_text() == report
