"""PReLU and Maxout against what a user would write without them."""

from __future__ import annotations

import jax
import jax.numpy as jnp

import jaxact
from benchmarks.elementwise import FLOOR_LABEL, FLOOR_SCALE, forward_and_vjp, inputs, progress
from benchmarks.hlo import hlo_op_counts
from benchmarks.timing import paired_ratio, summary, timeit_interleaved


def time_prelu(n: int, num_channels: int, reps: int) -> list[dict]:
    """Channel-wise prelu against leaky_relu on ``n`` float32 values, channels last.

    forward+vjp differentiates prelu with respect to the input and the slopes
    (the slopes are what training needs) and leaky_relu with respect to the
    input only, so the ratio includes the extra reduction over the batch.
    """
    x, cotangent = inputs(n, jnp.float32)
    x = x.reshape(-1, num_channels)
    cotangent = cotangent.reshape(-1, num_channels)
    slopes = jnp.full((num_channels,), 0.25, jnp.float32)

    def prelu_vjp(x, slopes, cotangent):
        y, pullback = jax.vjp(lambda x, s: jaxact.prelu(x, s, channel_axis=-1), x, slopes)
        return y, pullback(cotangent)

    def leaky_vjp(fn):
        return lambda x, slopes, cotangent: forward_and_vjp(lambda v: fn(v, 0.25))(x, cotangent)

    modes = {
        "forward": {
            "jaxact.prelu": lambda x, s, c: jaxact.prelu(x, s, channel_axis=-1),
            "jax.nn.leaky_relu": lambda x, s, c: jax.nn.leaky_relu(x, 0.25),
            "jaxact.leaky_relu": lambda x, s, c: jaxact.leaky_relu(x, 0.25),
            FLOOR_LABEL: lambda x, s, c: x * FLOOR_SCALE,
        },
        "forward+vjp": {
            "jaxact.prelu": prelu_vjp,
            "jax.nn.leaky_relu": leaky_vjp(jax.nn.leaky_relu),
            "jaxact.leaky_relu": leaky_vjp(jaxact.leaky_relu),
            FLOOR_LABEL: lambda x, s, c: (x * FLOOR_SCALE, c * FLOOR_SCALE),
        },
    }
    rows = []
    args = (x, slopes, cotangent)
    for mode, contenders in modes.items():
        times = timeit_interleaved(contenders, reps, args=args)
        for label, samples in times.items():
            rows.append({"group": "prelu", "mode": mode, "contender": label, "n": n,
                         **summary(samples), "status": "ok",
                         "reference": "jax.nn.leaky_relu",
                         "ratio_reference": paired_ratio(samples, times["jax.nn.leaky_relu"]),
                         "hlo": hlo_op_counts(contenders[label], *args)})
    progress("prelu")
    return rows


def time_maxout(batch: int, in_features: int, out_features: int, num_pieces: int,
                reps: int) -> list[dict]:
    """jaxact.Maxout against a Dense layer of width out_features * num_pieces
    and two hand-written maxouts, float32.

    forward+backward is one jitted call returning <layer(x), cotangent> and its
    gradients with respect to the parameters and the input. The value is
    returned so that the forward matmul is really done: the gradients of a
    Dense layer alone do not need it, and XLA would drop it from the floor.
    """
    width = out_features * num_pieces
    keys = jax.random.split(jax.random.key(1), 5)
    x = jax.random.normal(keys[0], (batch, in_features), jnp.float32)
    cotangent = jax.random.normal(keys[1], (batch, out_features), jnp.float32)
    wide_cotangent = jax.random.normal(keys[1], (batch, width), jnp.float32)
    scale = in_features**-0.5
    wide = (scale * jax.random.normal(keys[2], (in_features, width)), jnp.zeros((width,)))
    stacked = (scale * jax.random.normal(keys[3], (num_pieces, in_features, out_features)),
               jnp.zeros((num_pieces, out_features)))
    layer = jaxact.Maxout.init(keys[4], in_features, out_features, num_pieces)

    def dense(params, x):
        w, b = params
        return x @ w + b

    def reshape_max(params, x):
        return dense(params, x).reshape(batch, out_features, num_pieces).max(axis=-1)

    def separate_matmuls(params, x):
        w, b = params
        out = x @ w[0] + b[0]
        for piece in range(1, num_pieces):
            out = jnp.maximum(out, x @ w[piece] + b[piece])
        return out

    def call_layer(params, x):
        return params(x)

    contenders = {
        "jaxact.Maxout": (call_layer, layer, cotangent),
        "Dense floor": (dense, wide, wide_cotangent),
        "matmul+reshape+max": (reshape_max, wide, cotangent),
        "separate matmuls": (separate_matmuls, stacked, cotangent),
    }

    def forward(apply):
        return lambda params, x, ct: apply(params, x)

    def forward_backward(apply):
        def run(params, x, ct):
            return jax.value_and_grad(lambda p, v: jnp.vdot(apply(p, v), ct),
                                      argnums=(0, 1))(params, x)

        return run

    rows = []
    for mode, wrap in (("forward", forward), ("forward+backward", forward_backward)):
        specs = {label: (wrap(apply), (params, x, ct))
                 for label, (apply, params, ct) in contenders.items()}
        times = timeit_interleaved(specs, reps)
        for label, samples in times.items():
            rows.append({"group": "maxout", "mode": mode, "contender": label,
                         "shape": f"batch {batch}, {in_features}->{out_features}, "
                                  f"{num_pieces} pieces",
                         **summary(samples), "status": "ok", "reference": "Dense floor",
                         "ratio_reference": paired_ratio(samples, times["Dense floor"]),
                         "hlo": hlo_op_counts(specs[label][0], *specs[label][1])})
    progress("maxout")
    return rows
