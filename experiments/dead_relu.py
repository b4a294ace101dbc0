"""Experiment 5: dead units after training, against learning rate and bias init.

The source: a ReLU unit whose input stays negative gets zero gradient and never
recovers ("dead ReLU"); causes are a bad initialisation or a learning rate that
is too high. A unit is dead when it is active (h > 0) on no example of the
whole training set. We train with plain SGD (no momentum, so the learning rate
alone sets the step) at four learning rates up to a too-high one, and with
every hidden bias initialised to a negative value.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from experiments import training
from experiments.common import (
    DOES_NOT_HOLD,
    HOLDS,
    claim,
    depends,
    fmt,
    load_data,
    mean_std,
    new_figure,
    save_figure,
)
from jaxact import diagnostics

ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu", "maxout")
QUICK_ACTIVATIONS = ("relu", "leaky_relu")
LEARNING_RATES = (0.01, 0.1, 0.5, 2.0)
BAD_BIAS = -3.0
GOOD_RATE = 0.1
# "Many" dead units: at least a quarter of the hidden layer.
MANY_DEAD = 0.25


@functools.partial(jax.jit, static_argnames=("spec",))
def _accumulate_active(active, params, x, *, spec):
    """OR-accumulates per-layer active units of every (rate, seed) run over one batch."""

    def one_run(run_active, run_params):
        _, hidden = training.apply_mlp(run_params, x, spec, with_hidden=True)
        return [
            diagnostics.update_active_units(a, h)
            for a, (_, h) in zip(run_active, hidden, strict=True)
        ]

    return jax.vmap(jax.vmap(one_run))(active, params)


def dead_fractions(trained: training.TrainResult, x_train: np.ndarray) -> np.ndarray:
    """(rates, seeds) fraction of hidden units never active on the whole training set."""
    spec = training.activation(trained.config.activation)
    num_rates, num_seeds = trained.test_accuracy.shape
    widths = trained.config.hidden
    active = [jnp.zeros((num_rates, num_seeds, width), bool) for width in widths]
    for start in range(0, len(x_train), 512):
        active = _accumulate_active(
            active, trained.params, jnp.asarray(x_train[start : start + 512]), spec=spec
        )
    dead = jnp.concatenate(active, axis=-1)
    return np.asarray(jax.vmap(jax.vmap(diagnostics.dead_fraction))(dead))


def run(options) -> dict:
    data = load_data(options)
    hidden = (32, 32) if options.quick else (128, 128)
    steps = 50 if options.quick else 500
    results = {"hidden": hidden, "steps": steps, "learning_rates": LEARNING_RATES,
               "bad_bias": BAD_BIAS, "good_rate": GOOD_RATE, "activations": {}}
    for name in QUICK_ACTIVATIONS if options.quick else ACTIVATIONS:
        entry = {}
        for setting, bias, rates in (("rate_sweep", 0.0, LEARNING_RATES),
                                     ("bad_bias", BAD_BIAS, (GOOD_RATE,))):
            config = training.TrainConfig(
                name, hidden=hidden, steps=steps, learning_rates=rates, momentum=0.0,
                bias_init=bias, num_seeds=options.seeds, eval_every=50,
            )
            trained = training.train(config, data, desc=f"dead_relu {name} {setting}")
            dead = dead_fractions(trained, data.x_train)
            entry[setting] = {
                # A diverged run (NaN weights) is never "active"; it is left out
                # (NaN here, null in the JSON) rather than counted as dead.
                "dead_fraction": np.where(trained.diverged, np.nan, dead),  # (rates, seeds)
                "test_accuracy": trained.test_accuracy,
                "diverged": trained.diverged,
            }
        results["activations"][name] = entry
    return results


def plot(results: dict, path) -> None:
    figure, axes = new_figure(2, width=5.0, height=3.6)
    rates = results["learning_rates"]
    names = list(results["activations"])
    for index, name in enumerate(names):
        sweep = results["activations"][name]["rate_sweep"]
        dead = np.asarray(sweep["dead_fraction"], dtype=np.float64)
        axes[0, 0].errorbar(rates, dead.mean(1), yerr=dead.std(1), marker="o", capsize=3,
                            label=name)
        bad = np.asarray(results["activations"][name]["bad_bias"]["dead_fraction"],
                         dtype=np.float64)
        axes[0, 1].bar(index, bad.mean(), yerr=bad.std(), color=f"C{index}", capsize=3)
    axes[0, 0].set_xscale("log")
    axes[0, 0].set(title="dead units after training (bias 0)", xlabel="learning rate (SGD)",
                   ylabel="fraction never active", ylim=(-0.02, 1.02))
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].set_xticks(range(len(names)), names, rotation=30)
    axes[0, 1].set(title=f"dead units, bias init {results['bad_bias']}, "
                   f"lr {results['good_rate']}", ylim=(-0.02, 1.02))
    save_figure(figure, path)


def _dead(entry, rate_index=None) -> tuple[float, float]:
    dead = np.asarray(entry["dead_fraction"], dtype=np.float64)
    return mean_std(dead if rate_index is None else dead[rate_index])


def claims(results: dict) -> list[dict]:
    acts = results["activations"]
    rates = list(results["learning_rates"])
    figure = results["figure"]
    relu = acts["relu"]
    low = _dead(relu["rate_sweep"], 0)
    high = _dead(relu["rate_sweep"], len(rates) - 1)
    bad = _dead(relu["bad_bias"])
    good = _dead(relu["rate_sweep"], rates.index(results["good_rate"]))
    diverged = np.asarray(relu["rate_sweep"]["diverged"], dtype=bool)[-1].mean()

    def more_dead(a, b):
        # a clearly above b and a "many".
        return a[0] - a[1] > b[0] + b[1] and a[0] >= MANY_DEAD

    # Settings where ReLU ends with many dead units: the top learning rate and
    # the bad bias. A variant helps at a setting when its runs did not diverge
    # and fewer than MANY_DEAD of its units are inactive.
    settings = [("rate_sweep", len(rates) - 1, f"lr {rates[-1]}"),
                ("bad_bias", 0, f"bias {results['bad_bias']}")]
    settings = [s for s in settings if _dead(relu[s[0]], s[1])[0] >= MANY_DEAD]
    others = [name for name in acts if name != "relu"]

    def at(name, setting, index):
        entry = acts[name][setting]
        diverged = np.asarray(entry["diverged"], dtype=bool)[index]
        dead = _dead(entry, index)[0]
        text = f"{name} {dead:.2f}" if np.isfinite(dead) else f"{name} diverged"
        if diverged.any() and np.isfinite(dead):
            text += f" ({diverged.sum()}/{diverged.size} diverged)"
        return (not diverged.any()) and dead < MANY_DEAD, text

    helps = {name: all(at(name, s, i)[0] for s, i, _ in settings) for name in others}
    fixed = [name for name in others if helps[name]]
    if not settings:
        fix_verdict = depends("there being dead ReLUs to fix: too few appeared here")
    elif len(fixed) == len(others):
        fix_verdict = HOLDS
    elif fixed:
        fix_verdict = depends(f"the variant: only {', '.join(fixed)} kept most units alive")
    else:
        fix_verdict = DOES_NOT_HOLD
    fix_measured = "; ".join(
        f"{label}: relu {_dead(relu[s], i)[0]:.2f}, "
        + ", ".join(at(name, s, i)[1] for name in others)
        for s, i, label in settings
    ) + " (fraction of units never active, h > 0, on the training set)"
    return [
        claim(
            "dead-relu-bad-init",
            "Dead ReLU: a bad initialisation leaves units that never activate again.",
            f"relu dead fraction with bias init {results['bad_bias']}: {fmt(*bad)}, "
            f"with bias 0 at the same lr {results['good_rate']}: {fmt(*good)}",
            HOLDS if more_dead(bad, good) else DOES_NOT_HOLD,
            figure,
        ),
        claim(
            "dead-relu-high-lr",
            "Dead ReLU: a learning rate that is too high kills units.",
            f"relu dead fraction at lr {rates[0]}: {fmt(*low)}, at lr {rates[-1]}: "
            f"{fmt(*high)} ({diverged:.0%} of runs at lr {rates[-1]} diverged; test accuracy "
            f"{fmt(*mean_std(np.asarray(relu['rate_sweep']['test_accuracy'])[-1]))})",
            HOLDS if more_dead(high, low) else DOES_NOT_HOLD,
            figure,
        ),
        claim(
            "variants-fix-dead",
            "Leaky ReLU, PReLU, ELU and Maxout avoid dead units.",
            fix_measured,
            fix_verdict,
            figure,
        ),
    ]
