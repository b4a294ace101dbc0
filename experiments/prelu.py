"""Experiment 6: PReLU with He et al.'s recipe against ReLU.

Recipe (He et al. 2015): slopes start at 0.25, momentum SGD, weight decay on
the weights but none on the slopes. Channel-wise (one slope per unit) and
channel-shared (one slope per layer) PReLU against ReLU on the same MLP,
seeds and batches: test accuracy, the learned slopes of each layer, and the
extra parameters the slopes cost.
"""

from __future__ import annotations

import numpy as np

from experiments import training
from experiments.common import (
    DOES_NOT_HOLD,
    HOLDS,
    claim,
    compare_verdict,
    fmt,
    load_data,
    mean_std,
    new_figure,
    save_figure,
)

VARIANTS = ("relu", "prelu", "prelu_shared")
WEIGHT_DECAY = 5e-4
LEARNING_RATE = 0.03
MOMENTUM = 0.9
# "Negligible": the slopes add under 1% to the parameter count.
NEGLIGIBLE = 0.01


def run(options) -> dict:
    data = load_data(options)
    hidden = (32, 32) if options.quick else (128, 128, 128)
    steps = 50 if options.quick else 1000
    results = {"hidden": hidden, "steps": steps, "weight_decay": WEIGHT_DECAY,
               "learning_rate": LEARNING_RATE, "momentum": MOMENTUM, "variants": {}}
    for name in VARIANTS:
        config = training.TrainConfig(
            name, hidden=hidden, steps=steps, learning_rates=(LEARNING_RATE,),
            momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, num_seeds=options.seeds,
            eval_every=50,
        )
        trained = training.train(config, data, desc=f"prelu {name}")
        entry = {
            "test_accuracy": trained.test_accuracy[0],
            "parameters": training.count_parameters(training.select_run(trained.params, 0, 0)),
        }
        if name != "relu":
            # Per layer, per seed: mean and spread of the learned slopes.
            slopes = [np.asarray(layer.negative_slope[0]) for layer in
                      trained.params["activation"]]
            entry["slope_mean"] = np.stack(
                [s.reshape(s.shape[0], -1).mean(axis=1) for s in slopes], axis=1)
            entry["slope_std"] = np.stack(
                [s.reshape(s.shape[0], -1).std(axis=1) for s in slopes], axis=1)
        results["variants"][name] = entry
    return results


def plot(results: dict, path) -> None:
    figure, axes = new_figure(2, width=5.0, height=3.6)
    variants = results["variants"]
    for index, name in enumerate(variants):
        accuracy = np.asarray(variants[name]["test_accuracy"], dtype=np.float64)
        axes[0, 0].bar(index, accuracy.mean(), yerr=accuracy.std(), color=f"C{index}",
                       capsize=3)
        if "slope_mean" in variants[name]:
            slope = np.asarray(variants[name]["slope_mean"], dtype=np.float64)
            layers = np.arange(1, slope.shape[1] + 1)
            axes[0, 1].errorbar(layers, slope.mean(0), yerr=slope.std(0), marker="o",
                                capsize=3, label=name, color=f"C{index}")
    lows = [np.asarray(v["test_accuracy"]).min() for v in variants.values()]
    axes[0, 0].set_ylim(min(lows) - 0.02, 1.0)
    axes[0, 0].set_xticks(range(len(variants)), list(variants))
    axes[0, 0].set(title="test accuracy")
    axes[0, 1].axhline(0.25, color="black", lw=0.8, ls="--", label="init 0.25")
    axes[0, 1].set(title="learned slope per layer (mean over units)", xlabel="hidden layer")
    axes[0, 1].legend(fontsize=8)
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    variants = results["variants"]
    figure = results["figure"]
    accuracy = {name: mean_std(v["test_accuracy"]) for name, v in variants.items()}
    relu_params = variants["relu"]["parameters"]
    extra = {name: variants[name]["parameters"] / relu_params - 1.0
             for name in ("prelu", "prelu_shared")}
    # "Improves accuracy": relu's error clearly above PReLU's, i.e. relu accuracy clearly below.
    verdict = compare_verdict(accuracy["relu"], accuracy["prelu"])
    slopes = np.asarray(variants["prelu"]["slope_mean"], dtype=np.float64).mean(0)
    return [
        claim(
            "prelu-improves-accuracy",
            "PReLU (learned slopes, He et al.) improves accuracy over ReLU.",
            f"test accuracy: relu {fmt(*accuracy['relu'])}, channel-wise prelu "
            f"{fmt(*accuracy['prelu'])}, channel-shared {fmt(*accuracy['prelu_shared'])}; "
            f"learned slopes per layer {', '.join(f'{s:.2f}' for s in slopes)} (from 0.25)",
            verdict,
            figure,
        ),
        claim(
            "prelu-negligible-params",
            "PReLU's extra parameters are negligible.",
            f"extra parameters: channel-wise {extra['prelu']:.2%}, channel-shared "
            f"{extra['prelu_shared']:.3%} of {relu_params} (time: see the cost row)",
            HOLDS if extra["prelu"] < NEGLIGIBLE else DOES_NOT_HOLD,
            figure,
        ),
    ]
