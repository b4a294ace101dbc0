"""Training steps: jaxact against the same model with jax.nn.

The MLP steps (``time_mlp``: plain SGD, every elementwise function) and the
models suite (``time_models``): a GPT-2-style decoder (gelu, tanh form), a
LLaMA-style decoder (silu in a SwiGLU MLP) and a PINN (tanh, its Laplacian by
``jax.hessian``) in float32 and float64, each trained by Adam. The models are
written in plain jax.numpy, so the bench depends on no framework; each is small
enough that a step takes tens of milliseconds on two cores.
"""

from __future__ import annotations

import functools
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from jax import lax

from benchmarks.elementwise import ELEMENTWISE, progress
from benchmarks.hlo import count_opcodes
from harness.timing import Eager, paired_ratio, summary, timeit_interleaved


def _mlp_step_factory(activation: Callable, learning_rate: float = 1e-3) -> Callable:
    """A fresh SGD step each call, so that jax's trace cache cannot hide compile time."""

    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = activation(h @ w + b)
        w, b = params[-1]
        return jnp.mean((h @ w + b - y) ** 2)

    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
        return params, value

    return step


def _compile(step: Callable, *args) -> tuple[float, float, object]:
    """(trace + lower seconds, total seconds, compiled) of a fresh jit of ``step``."""
    start = time.perf_counter()
    lowered = jax.jit(step).lower(*args)
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    return lowered_at - start, time.perf_counter() - start, compiled


def time_mlp(names: Sequence[str], depth: int, width: int, batch: int, reps: int,
             compile_reps: int = 1, model: str = "mlp") -> list[dict]:
    """SGD step of a ``depth``-layer MLP with each activation, jaxact vs the reference:
    step time, compile time (lower + compile) and the compiled step's temporary memory.

    Memory is also given in activation-sized arrays (batch x width float32) per
    activation layer, and against the same step with jax.nn.relu, which keeps
    one such array per layer for its backward pass (its input, beside the output
    the next matmul's gradient needs).
    """
    keys = jax.random.split(jax.random.key(2), depth + 2)
    params = [(width**-0.5 * jax.random.normal(k, (width, width)), jnp.zeros((width,)))
              for k in keys[:depth]]
    x = jax.random.normal(keys[depth], (batch, width))
    y = jax.random.normal(keys[depth + 1], (batch, width))
    layer_bytes = (depth - 1) * batch * width * 4
    relu_temp_bytes = _compile(_mlp_step_factory(jax.nn.relu), params, x, y)[2] \
        .memory_analysis().temp_size_in_bytes
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        reference_label = function.reference_label
        activations = {"jaxact": function.jaxact, reference_label: function.reference}

        # Compile time is trace + lower (Python, jax) plus XLA's compile; both
        # are kept, as they point at different causes.
        lower_times: dict[str, list[float]] = {label: [] for label in activations}
        compile_times: dict[str, list[float]] = {label: [] for label in activations}
        compiled = {}
        for _ in range(compile_reps):
            for label, activation in activations.items():
                lower_s, total_s, compiled[label] = _compile(_mlp_step_factory(activation),
                                                             params, x, y)
                lower_times[label].append(lower_s)
                compile_times[label].append(total_s)
        temp_bytes = {label: step.memory_analysis().temp_size_in_bytes
                      for label, step in compiled.items()}
        # The executables just compiled are the ones timed: no compile twice.
        times = timeit_interleaved({label: Eager(step) for label, step in compiled.items()},
                                   reps, args=(params, x, y))
        for label, samples in times.items():
            rows.append({
                "model": model, "name": name, "contender": label, "reference": reference_label,
                "depth": depth, "width": width, "batch": batch, **summary(samples),
                "ratio_reference": paired_ratio(samples, times[reference_label]),
                "compile_median_s": statistics.median(compile_times[label]),
                "lower_median_s": statistics.median(lower_times[label]),
                "compile_ratio": paired_ratio(compile_times[label],
                                              compile_times[reference_label]),
                "temp_bytes": temp_bytes[label],
                "temp_ratio": temp_bytes[label] / temp_bytes[reference_label],
                "arrays_per_layer": temp_bytes[label] / layer_bytes,
                "relu_arrays_per_layer": relu_temp_bytes / layer_bytes,
                "temp_ratio_relu": temp_bytes[label] / relu_temp_bytes,
                "hlo": count_opcodes(compiled[label].as_text()),
            })
        progress(f"{model} {name}: jaxact / {reference_label} = "
                 f"{paired_ratio(times['jaxact'], times[reference_label]):.3f}")
    return rows



# --------------------------------------------------------------------------
# The models suite: training steps of the models users run, each written in
# plain jax.numpy (no framework), with Adam from optax.

def _dense(key, n_in: int, n_out: int, dtype, bias: bool = True) -> dict:
    weight = n_in**-0.5 * jax.random.normal(key, (n_in, n_out), jnp.float32)
    layer = {"w": weight.astype(dtype)}
    if bias:
        layer["b"] = jnp.zeros((n_out,), dtype)
    return layer


def _apply_dense(layer: dict, x):
    y = x @ layer["w"]
    return y + layer["b"] if "b" in layer else y


def _layer_norm(x, scale, bias, eps=1e-5):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    variance = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * lax.rsqrt(variance + eps) * scale + bias


def _rms_norm(x, scale, eps=1e-6):
    return x * lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps) * scale


def _causal_attention(x, layers: dict, num_heads: int):
    batch, seq, width = x.shape
    head = width // num_heads
    q, k, v = jnp.split(_apply_dense(layers["qkv"], x), 3, axis=-1)
    q, k, v = (t.reshape(batch, seq, num_heads, head) for t in (q, k, v))
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) * head**-0.5
    causal = jnp.tril(jnp.ones((seq, seq), bool))
    logits = jnp.where(causal, logits, jnp.finfo(x.dtype).min)
    out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
    return _apply_dense(layers["out"], out.reshape(batch, seq, width))


def _token_loss(logits, targets):
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_probs, targets[..., None], axis=-1))


def _decoder_init(key, sizes: dict, dtype, llama: bool) -> tuple[dict, tuple]:
    """Parameters and a batch of tokens for a GPT-2-style (``llama`` false) or
    LLaMA-style decoder of ``sizes`` (vocab, seq, batch, width, heads, layers)."""
    width, hidden = sizes["width"], sizes["hidden"]
    keys = iter(jax.random.split(key, 3 + 5 * sizes["layers"]))
    ones, zeros = jnp.ones((width,), dtype), jnp.zeros((width,), dtype)
    blocks = []
    for _ in range(sizes["layers"]):
        attention = {"qkv": _dense(next(keys), width, 3 * width, dtype, bias=not llama),
                     "out": _dense(next(keys), width, width, dtype, bias=not llama)}
        if llama:
            blocks.append({"norm1": ones, "attn": attention, "norm2": ones,
                           "gate": _dense(next(keys), width, hidden, dtype, bias=False),
                           "up": _dense(next(keys), width, hidden, dtype, bias=False),
                           "down": _dense(next(keys), hidden, width, dtype, bias=False)})
        else:
            blocks.append({"ln1": (ones, zeros), "attn": attention, "ln2": (ones, zeros),
                           "fc": _dense(next(keys), width, hidden, dtype),
                           "proj": _dense(next(keys), hidden, width, dtype)})
    embed = 0.02 * jax.random.normal(next(keys), (sizes["vocab"], width), jnp.float32)
    params = {"embed": embed.astype(dtype), "blocks": blocks,
              "final": ones if llama else (ones, zeros)}
    if not llama:
        position = 0.01 * jax.random.normal(next(keys), (sizes["seq"], width), jnp.float32)
        params["position"] = position.astype(dtype)
    tokens = jax.random.randint(next(keys), (sizes["batch"], sizes["seq"] + 1), 0,
                                sizes["vocab"])
    return params, (tokens,)


def _gpt2_loss(activation: Callable, sizes: dict) -> Callable:
    """Next-token loss of a GPT-2-style decoder: pre-layernorm blocks of causal
    self-attention and a 4x MLP with ``activation``, residuals, tied embedding."""

    def loss(params, tokens):
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        x = params["embed"][inputs] + params["position"]
        for block in params["blocks"]:
            x = x + _causal_attention(_layer_norm(x, *block["ln1"]), block["attn"],
                                      sizes["heads"])
            h = activation(_apply_dense(block["fc"], _layer_norm(x, *block["ln2"])))
            x = x + _apply_dense(block["proj"], h)
        return _token_loss(_layer_norm(x, *params["final"]) @ params["embed"].T, targets)

    return loss


def _llama_loss(activation: Callable, sizes: dict) -> Callable:
    """Next-token loss of a LLaMA-style decoder: RMSNorm, causal self-attention
    without biases (and without rotary embeddings, which do not touch the
    activation), and a SwiGLU MLP, ``activation(x W_gate) * (x W_up)``."""

    def loss(params, tokens):
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        x = params["embed"][inputs]
        for block in params["blocks"]:
            x = x + _causal_attention(_rms_norm(x, block["norm1"]), block["attn"],
                                      sizes["heads"])
            h = _rms_norm(x, block["norm2"])
            gated = activation(_apply_dense(block["gate"], h)) * _apply_dense(block["up"], h)
            x = x + _apply_dense(block["down"], gated)
        return _token_loss(_rms_norm(x, params["final"]) @ params["embed"].T, targets)

    return loss


def _pinn_init(key, sizes: dict, dtype) -> tuple[list, tuple]:
    """Parameters of u, an MLP of ``sizes["widths"]`` (2 in, 1 out), and the points."""
    widths = sizes["widths"]
    keys = jax.random.split(key, len(widths))
    params = [_dense(k, n_in, n_out, dtype)
              for k, n_in, n_out in zip(keys[:-1], widths[:-1], widths[1:], strict=True)]
    points = jax.random.uniform(keys[-1], (sizes["points"], 2), jnp.float32, -1.0, 1.0)
    return params, (points.astype(dtype),)


def _pinn_loss(activation: Callable, sizes: dict) -> Callable:
    """The mean squared Laplacian of u, the Laplacian from ``jax.hessian``: the
    third derivative of the activation is in its gradient."""

    def u(params, point):
        h = point
        for layer in params[:-1]:
            h = activation(_apply_dense(layer, h))
        return _apply_dense(params[-1], h)[0]

    def laplacian(params, point):
        return jnp.trace(jax.hessian(u, argnums=1)(params, point))

    def loss(params, points):
        return jnp.mean(jax.vmap(laplacian, in_axes=(None, 0))(params, points) ** 2)

    return loss


@dataclass(frozen=True)
class Model:
    """One model of the models suite, built for an activation of ELEMENTWISE."""

    description: str
    activation: str
    init: Callable  # (key, sizes, dtype) -> (params, batch)
    loss: Callable  # (activation, sizes) -> loss(params, *batch)


MODELS: dict[str, Model] = {
    "gpt2": Model("GPT-2-style decoder (layernorm, causal attention, 4x MLP)", "gelu",
                  lambda key, sizes, dtype: _decoder_init(key, sizes, dtype, llama=False),
                  _gpt2_loss),
    "llama": Model("LLaMA-style decoder (RMSNorm, causal attention, SwiGLU MLP)", "silu",
                   lambda key, sizes, dtype: _decoder_init(key, sizes, dtype, llama=True),
                   _llama_loss),
    "pinn": Model("PINN: the mean squared Laplacian, by jax.hessian, of an MLP u(x, y)", "tanh",
                  _pinn_init, _pinn_loss),
}
# The (model, dtype) pairs measured: float64 for the PINN, where users of
# physics-informed training run it.
MODEL_DTYPES = (("gpt2", "float32"), ("llama", "float32"), ("pinn", "float32"),
                ("pinn", "float64"))


def train_step_factory(loss: Callable, optimizer) -> Callable:
    """A fresh training step (value_and_grad, an optax update) each call, so that
    jax's trace cache cannot hide the compile time of a fresh jit."""

    def step(params, opt_state, *batch):
        value, grads = jax.value_and_grad(loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


def compile_interleaved(factories: dict[str, Callable[[], Callable]], args: tuple, reps: int,
                        warm_up: bool = True) -> tuple[dict[str, list[float]],
                                                       dict[str, list[float]], dict]:
    """Seconds of ``reps`` fresh compiles (trace, lower, XLA compile) of each
    contender's function, wall-clock and this process's CPU time, and the
    executables of the last.

    The wall-clock time is what a user waits; the CPU time leaves out the
    time other processes took the cores meanwhile, so on a shared machine it
    tells a real difference from load.

    ``factories`` maps a label to a function that returns a new function to
    jit, so that no compile reuses an earlier trace. The contenders alternate
    in an order shuffled anew every rep, as in
    :func:`harness.timing.timeit_interleaved`, so that load from other
    processes falls on both; ``warm_up`` compiles each once untimed first
    (which pays the one-off costs of the first compile in a process).
    """
    compiled: dict = {}
    times: dict[str, list[float]] = {label: [] for label in factories}
    cpu_times: dict[str, list[float]] = {label: [] for label in factories}
    labels = list(factories)
    order_rng = random.Random(0)
    for rep in range(reps + warm_up):
        order_rng.shuffle(labels)
        for label in labels:
            start, cpu_start = time.perf_counter(), time.process_time()
            compiled[label] = jax.jit(factories[label]()).lower(*args).compile()
            if rep >= warm_up:
                times[label].append(time.perf_counter() - start)
                cpu_times[label].append(time.process_time() - cpu_start)
    return times, cpu_times, compiled


def time_models(names: Sequence[str], dtypes: Sequence[str], sizes: dict[str, dict],
                reps: int, compile_reps: int, warm_up: bool = True) -> list[dict]:
    """Adam training step of each model of :data:`MODEL_DTYPES` whose activation
    is in ``names`` and dtype in ``dtypes``, with jaxact's activation against
    jax.nn's.

    Each row: the step time (``ratio_reference``: paired median over ``reps``),
    the compile time (trace, lower and XLA compile of a fresh jit, paired over
    ``compile_reps``, after one untimed compile if ``warm_up``:
    ``compile_ratio``, and in CPU time ``compile_cpu_ratio``;
    :func:`compile_interleaved`), the
    compiled step's temporary memory (``temp_ratio``) and its optimized HLO
    instruction count (``hlo_ratio``), each against jax.nn's.
    """
    rows = []
    for model_name, dtype in MODEL_DTYPES:
        model, model_sizes = MODELS[model_name], sizes[model_name]
        if dtype not in dtypes or model.activation not in names:
            continue
        function = ELEMENTWISE[model.activation]
        reference_label = function.reference_label
        params, batch = model.init(jax.random.key(4), model_sizes, jnp.dtype(dtype))
        optimizer = optax.adam(1e-3)
        args = (params, optimizer.init(params), *batch)
        compile_times, compile_cpu_times, compiled = compile_interleaved(
            {label: functools.partial(train_step_factory, model.loss(activation, model_sizes),
                                      optimizer)
             for label, activation in (("jaxact", function.jaxact),
                                       (reference_label, function.reference))},
            args, compile_reps, warm_up=warm_up)
        times = timeit_interleaved({label: Eager(step) for label, step in compiled.items()},
                                   reps, args=args)
        temp_bytes = {label: step.memory_analysis().temp_size_in_bytes
                      for label, step in compiled.items()}
        instructions = {label: count_opcodes(step.as_text())["instructions"]
                        for label, step in compiled.items()}
        for label, samples in times.items():
            rows.append({
                "model": model_name, "description": model.description, "dtype": dtype,
                "sizes": model_sizes, "name": model.activation, "contender": label,
                "reference": reference_label, **summary(samples),
                "ratio_reference": paired_ratio(samples, times[reference_label]),
                "compile_median_s": statistics.median(compile_times[label]),
                "compile_ratio": paired_ratio(compile_times[label],
                                              compile_times[reference_label]),
                "compile_cpu_ratio": paired_ratio(compile_cpu_times[label],
                                                  compile_cpu_times[reference_label]),
                "temp_bytes": temp_bytes[label],
                "temp_ratio": temp_bytes[label] / temp_bytes[reference_label],
                "hlo_instructions": instructions[label],
                "hlo_ratio": instructions[label] / instructions[reference_label],
            })
        ours = next(row for row in rows[-2:] if row["contender"] == "jaxact")
        progress(f"{model_name} {dtype} ({model.activation}): jaxact / {reference_label}: "
                 f"step {ours['ratio_reference']:.3f}, compile {ours['compile_ratio']:.3f}, "
                 f"temp {ours['temp_ratio']:.3f}, HLO {ours['hlo_ratio']:.2f}")
    return rows
