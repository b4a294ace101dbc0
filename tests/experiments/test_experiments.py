"""The experiments suite: a quick run end to end and the report command (resuming: test_runner.py).

The quick run is shared by the tests of this file (a module fixture): it is
the expensive part, and each test checks a different property of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import EXPERIMENT_NAMES
from experiments.__main__ import main


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


def test_report_command_redraws_from_json_alone(quick_run):
    report = (quick_run / "REPORT.md").read_text()
    (quick_run / "curves.png").unlink()
    assert main(["report", "--out", str(quick_run)]) == 0
    assert (quick_run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (quick_run / "REPORT.md").read_text() == report


def test_curves_has_a_panel_set_of_the_modern_functions(quick_run):
    # The second panel set: the jax.nn functions beyond the classic eight, with
    # finite values and derivatives over the whole plotted range.
    results = json.loads((quick_run / "curves.json").read_text())
    modern = results["modern"]
    assert modern and set(modern) <= set(results["curves"])
    labels = {label for family in modern for label in results["curves"][family]}
    for name in ("silu", "mish", "selu", "soft_sign", "hard_tanh", "sparse_plus", "relu6"):
        assert name in labels, name
    for family in modern:
        for label, curve in results["curves"][family].items():
            for key in ("value", "derivative"):
                values = curve[key]
                assert all(v is not None and abs(v) < float("inf") for v in values), (label, key)


# --------------------------------------------------------------------------
# Where jaxact's accurate derivatives change training (issue 22): the
# direction of each effect that is deterministic, read from the quick run.


def _result(quick_run, name):
    return json.loads((quick_run / f"{name}.json").read_text())


def test_adam_moves_saturated_units_only_with_nonzero_tail_gradients(quick_run):
    results = _result(quick_run, "adam_saturation")
    assert results["jax"] in results["claims"][0]["measured"]
    adam = results["optimisers"]["Adam eps=1e-12"]
    # jax.nn's hidden gradient is exactly 0 everywhere, so its hidden layer
    # never moves: every unit stays saturated at every evaluation.
    assert all(zero == 1.0 for zero in adam["jax.nn"]["initial_gradient_zero_fraction"])
    assert all(row == [1.0] * len(row) for row in adam["jax.nn"]["saturated"])
    assert all(zero < 1.0 for zero in adam["jaxact"]["initial_gradient_zero_fraction"])
    assert all(rms > 0.0 for rms in adam["jaxact"]["initial_gradient_rms"])
    # Both start from the same weights, and Adam moves jaxact's units out.
    assert all(row[0] == 1.0 for row in adam["jaxact"]["saturated"])
    assert max(row[-1] for row in adam["jaxact"]["saturated"]) < 1.0


def test_newton_hessian_singular_with_jax_nn_only_under_quasi_separation(quick_run):
    cases = _result(quick_run, "newton_logistic")["cases"]
    quasi, overlap = cases["quasi-separated"], cases["overlapping"]
    # A NaN is stored as null: jax.nn's Newton ends in NaN weights, jaxact's does not.
    assert all(None in weights for weights in quasi["jax.nn"]["weights"])
    assert not any(None in weights for weights in quasi["jaxact"]["weights"])
    assert all(low > 0 for run in quasi["jaxact"]["min_eigenvalue"] for low in run)
    for impl in ("jax.nn", "jaxact"):
        assert not any(None in weights for weights in overlap[impl]["weights"])


def test_bce_gradient_agrees_but_autodiff_log_det_differs(quick_run):
    results = _result(quick_run, "tail_likelihood")
    curves = results["curves"]
    for impl in ("jax.nn", "jaxact"):
        for label in ("y=1", "y=0"):
            assert max(curves[impl][label]["gradient_error"]) < 1e-5, (impl, label)
    # The curvature: exact zeros (relative error 1) for jax.nn, none for jaxact.
    assert 1.0 in curves["jax.nn"]["y=1"]["curvature_error"]
    assert max(curves["jaxact"]["y=1"]["curvature_error"]) < 1e-5
    # log(grad σ): -inf (null in JSON) in jax.nn's tails, finite with jaxact.
    assert None in curves["jax.nn"]["log_det_error"]
    assert None not in curves["jaxact"]["log_det_error"]
    assert len(results["training"]["jax.nn"]) == len(results["training"]["jaxact"])


def test_deep_precision_and_null_rows_have_both_implementations(quick_run):
    deep = _result(quick_run, "deep_precision")
    for config in deep["configs"]:
        depth = config["depth"]
        for impl in ("jax.nn", "jaxact"):
            assert all(len(seed) == depth + 1 for seed in config[impl])
    null = _result(quick_run, "gelu_silu_null")
    for per_impl in null["families"].values():
        assert len(per_impl["jax.nn"]["test_accuracy"]) == len(per_impl["jaxact"]["test_accuracy"])


def test_pinn_laplacian_jaxact_never_worse(quick_run):
    results = _result(quick_run, "pinn_laplacian")
    for config in results["configs"]:
        shares = {}
        for impl in ("jax.nn", "jaxact"):
            errors = [1.0 if e is None else e for seed in config[impl] for e in seed]
            shares[impl] = sum(e > results["wrong"] for e in errors)
        assert shares["jaxact"] <= shares["jax.nn"], config["scale"]
        assert config["jaxact_exact_zero"] <= config["jax.nn_exact_zero"]


def test_gru_gates_open_only_with_nonzero_tail_gradients(quick_run):
    for per_impl in _result(quick_run, "gru_gates")["epsilons"].values():
        # jax.nn's gate gradients are exactly 0: the gates never move.
        assert all(curve == [1.0] * len(curve) for curve in per_impl["jax.nn"]["saturated"])
        assert all(curve[0] == 1.0 for curve in per_impl["jaxact"]["saturated"])
    smallest = min(_result(quick_run, "gru_gates")["epsilons"], key=float)
    jaxact_runs = _result(quick_run, "gru_gates")["epsilons"][smallest]["jaxact"]
    assert all(curve[-1] < 1.0 for curve in jaxact_runs["saturated"])
