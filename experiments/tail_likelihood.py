"""Experiment 13: likelihoods in the tails, jax.nn vs jaxact (float32).

Binary cross-entropy from logits, -y·log σ(x) - (1 - y)·log σ(-x), written
with ``log_sigmoid`` as optax writes it: its gradient σ(x) - y and its
curvature σ'(x) against exact values, over logits up to ±80 (confidently
wrong predictions included), and a short training run of a logistic
regression on the default data set that starts confidently wrong. Then the
log-det-Jacobian of a sigmoid flow bijector taken by autodiff,
log |dσ/dx| = log(jax.grad(σ)(x)), far in its tails.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from experiments import precision
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

IMPLEMENTATIONS = {"jax.nn": (jax.nn.log_sigmoid, jax.nn.sigmoid),
                   "jaxact": (jaxact.log_sigmoid, jaxact.sigmoid)}
# e^-80 is still a normal float32, so every exact value below is representable.
LIMIT = 80.0
# Initial logits of the training run: confidently wrong by about this much.
WRONG_BY = 40.0
LEARNING_RATE = 0.05


def _bce(log_sigmoid, x, y):
    return -(y * log_sigmoid(x) + (1.0 - y) * log_sigmoid(-x))


def _exact(x: np.ndarray, y: float):
    """Float64 gradient σ(x) - y and curvature σ'(x), each without cancellation."""
    gradient = np.where(y == 1.0, -1.0 / (1.0 + np.exp(x)), 1.0 / (1.0 + np.exp(-x)))
    small = np.exp(-np.abs(x))
    return gradient, small / (1.0 + small) ** 2


def _derivatives(log_sigmoid, sigmoid, x, y):
    loss = functools.partial(_bce, log_sigmoid, y=y)
    gradient = jax.vmap(jax.grad(loss))(x)
    curvature = jax.vmap(jax.grad(jax.grad(loss)))(x)
    log_det = jax.vmap(lambda t: jnp.log(jax.grad(sigmoid)(t)))(x)
    return gradient, curvature, log_det


def _train(log_sigmoid, x, y, w0, steps):
    """Full-batch gradient descent on the mean BCE; the loss at every step."""

    def loss(w):
        return jnp.mean(_bce(log_sigmoid, x @ w[:-1] + w[-1], y))

    def step(w, _):
        value, gradient = jax.value_and_grad(loss)(w)
        return w - LEARNING_RATE * gradient, value

    return jax.lax.scan(step, w0, None, length=steps)[1]


_train_jit = jax.jit(_train, static_argnames=("log_sigmoid", "steps"))


def run(options) -> dict:
    points = 641 if options.quick else 6401
    x = np.linspace(-LIMIT, LIMIT, points).astype(np.float32)
    x64 = x.astype(np.float64)
    exact_log_det = -np.abs(x64) - 2.0 * np.log1p(np.exp(-np.abs(x64)))
    results = {"limit": LIMIT, "jax": precision.jax_version(), "curves": {"x": x},
               "failure": precision.failure_note("jax.nn.sigmoid'", jax.nn.sigmoid)}
    for impl, (log_sigmoid, sigmoid) in IMPLEMENTATIONS.items():
        per_label = {}
        for y in (1.0, 0.0):
            exact_gradient, exact_curvature = _exact(x64, y)
            gradient, curvature, log_det = (
                np.asarray(v, np.float64)
                for v in jax.jit(_derivatives, static_argnums=(0, 1))(
                    log_sigmoid, sigmoid, jnp.asarray(x), y)
            )
            per_label[f"y={y:g}"] = {
                "gradient_error": np.abs(gradient - exact_gradient) / np.abs(exact_gradient),
                "curvature_error": np.abs(curvature - exact_curvature) / exact_curvature,
            }
        per_label["log_det_error"] = np.abs(log_det - exact_log_det)
        results["curves"][impl] = per_label

    # Training: "digit 0 or not" with a linear model whose every initial logit
    # is wrong by WRONG_BY on average (the weights point the wrong way); each
    # seed draws its own subset of the training set.
    data = load_data(options)
    examples = 256 if options.quick else 1024
    steps = 50 if options.quick else 300
    training = {"steps": steps, "wrong_by": WRONG_BY}
    for seed in range(options.seeds):
        chosen = np.random.default_rng(seed).permutation(len(data.y_train))[:examples]
        features = data.x_train[chosen]
        labels = (data.y_train[chosen] == 0).astype(np.float32)
        direction = (features * (2.0 * labels - 1.0)[:, None]).mean(axis=0)
        w = -direction * WRONG_BY / np.abs(features @ direction).mean()
        w0 = jnp.asarray(np.append(w, 0.0).astype(np.float32))
        for impl, (log_sigmoid, _) in IMPLEMENTATIONS.items():
            losses = _train_jit(log_sigmoid, jnp.asarray(features), jnp.asarray(labels), w0,
                                steps)
            training.setdefault(impl, []).append(np.asarray(losses))
    results["training"] = training
    return results


def _finite_max(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else float("nan")


def _non_finite(values) -> int:
    return int((~np.isfinite(np.asarray(values, dtype=np.float64))).sum())


def plot(results: dict, path) -> None:
    figure, axes = new_figure(3, width=4.4, height=3.4)
    x = np.asarray(results["curves"]["x"], dtype=np.float64)
    tiny = 1e-12
    for impl, style in (("jax.nn", "--"), ("jaxact", "-")):
        curves = results["curves"][impl]
        for index, key in enumerate(("gradient_error", "curvature_error")):
            for color, label in enumerate(("y=1", "y=0")):
                error = np.asarray(curves[label][key], dtype=np.float64)
                axes[0, index].semilogy(x, np.maximum(np.nan_to_num(error, nan=1.0), tiny),
                                        style, color=f"C{color}", label=f"{impl}, {label}")
        log_det = np.asarray(curves["log_det_error"], dtype=np.float64)
        axes[0, 2].semilogy(x, np.maximum(np.nan_to_num(log_det, nan=1e3, posinf=1e3), tiny),
                            style, label=impl)
    axes[0, 0].set(title="BCE gradient: relative error", xlabel="logit")
    axes[0, 1].set(title="BCE curvature: relative error", xlabel="logit")
    axes[0, 2].set(title="log(grad σ) (flow log-det): abs error\n(1e3 = -inf)", xlabel="x")
    axes[0, 0].legend(fontsize=7)
    axes[0, 2].legend(fontsize=7)
    for axis in axes.ravel():
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    figure = results["figure"]
    curves = results["curves"]
    limit = results["limit"]

    def worst(impl, key):
        return max(_finite_max(curves[impl][label][key]) for label in ("y=1", "y=0"))

    def zero_curvature(impl):
        return sum(int((np.asarray(curves[impl][label]["curvature_error"], np.float64) == 1.0)
                       .sum()) for label in ("y=1", "y=0"))

    training = results["training"]
    nn_loss = np.asarray(training["jax.nn"], dtype=np.float64)
    act_loss = np.asarray(training["jaxact"], dtype=np.float64)
    gap = float(np.max(np.abs(nn_loss - act_loss) / np.abs(act_loss)))
    start, end = mean_std(act_loss[:, 0]), mean_std(act_loss[:, -1])
    gradient_error = {impl: worst(impl, "gradient_error") for impl in IMPLEMENTATIONS}
    curvature_error = {impl: worst(impl, "curvature_error") for impl in IMPLEMENTATIONS}
    if gradient_error["jax.nn"] < 1e-5 and gap < 1e-5:
        verdict = DOES_NOT_HOLD
    elif gradient_error["jax.nn"] > 1e-3 and gap > 1e-3:
        verdict = HOLDS
    else:
        verdict = depends("the size of the logits")
    log_det = {impl: curves[impl]["log_det_error"] for impl in IMPLEMENTATIONS}
    nn_inf, act_inf = _non_finite(log_det["jax.nn"]), _non_finite(log_det["jaxact"])
    points = len(curves["x"])
    return [
        claim(
            "bce-tails-gradient",
            "Binary cross-entropy from logits (log_sigmoid / softplus) with confidently wrong, "
            "large-magnitude logits: jax.nn's gradient is wrong in the tails, and accurate "
            "derivatives change training (issue 22).",
            f"float32 logits in [-{limit:g}, {limit:g}]: max relative error of the gradient "
            f"σ(x) - y: jax.nn {gradient_error['jax.nn']:.2g}, jaxact "
            f"{gradient_error['jaxact']:.2g}; logistic regression starting "
            f"with logits wrong by {results['training']['wrong_by']:g} on average, "
            f"{training['steps']} steps, loss {fmt(*start)} → {fmt(*end)}: largest relative "
            f"difference between the two loss curves {gap:.2g}. The curvature σ'(x) is where "
            f"they part: max relative error jax.nn {curvature_error['jax.nn']:.2g} "
            f"({zero_curvature('jax.nn')} of {2 * points} points exactly 0, confidently wrong "
            f"side), jaxact {curvature_error['jaxact']:.2g} (see the Newton row). "
            f"Where jax.nn fails: {results['failure']}",
            verdict,
            figure,
        ),
        claim(
            "flow-log-det-tails",
            "The log-det-Jacobian of a sigmoid flow bijector taken by autodiff, "
            "log(grad σ(x)), stays finite far in the tails with jaxact, not with jax.nn "
            "(issue 22).",
            f"float32, x in [-{limit:g}, {limit:g}]: -inf at {nn_inf} of {points} points with "
            f"jax.nn, {act_inf} with jaxact; max abs error where finite: jax.nn "
            f"{_finite_max(log_det['jax.nn']):.2g}, jaxact {_finite_max(log_det['jaxact']):.2g} "
            f"(the closed form log σ(x) + log σ(-x) is exact in both)",
            HOLDS if nn_inf > act_inf else DOES_NOT_HOLD,
            figure,
        ),
    ]
