"""PReLU and Maxout against what a user would write without them."""

from __future__ import annotations

import jax
import jax.numpy as jnp

import jaxact
from benchmarks.elementwise import FLOOR_LABEL, FLOOR_SCALE, forward_and_vjp, inputs, progress
from benchmarks.hlo import count_opcodes
from harness.timing import Eager, paired_ratio, summary, timeit_interleaved

# What a user gets without jaxact: the autodiff PReLU of flax and equinox.
WHERE_LABEL = "autodiff jnp.where"
EQUINOX_LABEL = "equinox.nn.PReLU"
FLAX_LABEL = "flax.nnx.PReLU"
LEAKY_LABEL = "jax.nn.leaky_relu"
PRELU_LABEL = "jaxact.prelu"
INIT_SLOPE = 0.25


def _where_prelu(x, slope):
    return jnp.where(x >= 0, x, slope * x)


def _equinox(slopes):
    """(apply, parameter) for equinox.nn.PReLU with these slopes, or the reason it is absent."""
    try:
        import equinox
    except ImportError:
        return "equinox not importable"
    return (lambda x, module: module(x)), equinox.nn.PReLU(init_alpha=slopes)


def _flax():
    """(apply, parameter) for flax.nnx.PReLU (one shared slope), or why it is absent."""
    try:
        from flax import nnx
    except ImportError:
        return "flax not importable"
    graphdef, state = nnx.split(nnx.PReLU(negative_slope_init=INIT_SLOPE))
    return (lambda x, state: nnx.merge(graphdef, state)(x)), state


def _prelu_contenders(slope, library) -> tuple[dict, dict]:
    """label -> (apply(x, parameter), parameter), and label -> reason for the absent ones.

    ``apply`` is differentiated in x and the parameter; leaky_relu's slope is a
    constant, as it is for a user of jax.nn."""
    contenders = {
        PRELU_LABEL: (lambda x, s: jaxact.prelu(x, s, channel_axis=-1), slope),
        WHERE_LABEL: (_where_prelu, slope),
        LEAKY_LABEL: (lambda x, _: jax.nn.leaky_relu(x, INIT_SLOPE), None),
        "jaxact.leaky_relu": (lambda x, _: jaxact.leaky_relu(x, INIT_SLOPE), None),
    }
    absent = {}
    for label, found in library.items():
        if isinstance(found, str):
            absent[label] = found
        else:
            contenders[label] = found
    return contenders, absent


def _forward(apply):
    return lambda x, parameter, cotangent: apply(x, parameter)


def _forward_and_vjp_with_parameter(apply, parameter):
    if parameter is None:
        return lambda x, parameter, cotangent: forward_and_vjp(
            lambda v: apply(v, None))(x, cotangent)

    def run(x, parameter, cotangent):
        y, pullback = jax.vjp(apply, x, parameter)
        return y, pullback(cotangent)

    return run


def _time_compiled(specs: dict, reps: int) -> tuple[dict, dict]:
    """Compiles each ``label -> (fn, args)`` once, times the executables interleaved
    and counts their HLO opcodes: (label -> seconds per rep, label -> counts)."""
    compiled = {label: (jax.jit(fn).lower(*args).compile(), args)
                for label, (fn, args) in specs.items()}
    # timeit_interleaved shares one argument tuple; each executable has its own.
    times = timeit_interleaved(
        {label: Eager(lambda c=c, a=a: c(*a)) for label, (c, a) in compiled.items()}, reps)
    return times, {label: count_opcodes(c.as_text()) for label, (c, _) in compiled.items()}


def time_prelu(n: int, num_channels: int, reps: int) -> list[dict]:
    """jaxact.prelu against the autodiff PReLU users otherwise get, on ``n`` float32 values.

    Two groups: ``"prelu"`` (one slope per channel, channels last; equinox's
    PReLU with the same slopes) and ``"prelu shared"`` (one slope; flax's
    PReLU). forward+vjp returns the value and the gradients in x and the slope;
    leaky_relu (in x only, its slope a constant) and the floor ``x * s`` are
    there for scale. Each row's ``ratio_reference`` is against the autodiff
    ``jnp.where(x >= 0, x, a * x)``, ``ratio_leaky_relu`` against jax.nn's
    leaky_relu; contenders that cannot be imported get a row saying why.
    """
    x, cotangent = inputs(n, jnp.float32)
    x = x.reshape(-1, num_channels)
    cotangent = cotangent.reshape(-1, num_channels)
    slopes = jnp.full((num_channels,), INIT_SLOPE, jnp.float32)
    groups = {
        "prelu": _prelu_contenders(slopes, {EQUINOX_LABEL: _equinox(slopes)}),
        "prelu shared": _prelu_contenders(jnp.float32(INIT_SLOPE), {FLAX_LABEL: _flax()}),
    }
    rows = []
    for group, (contenders, absent) in groups.items():
        for mode in ("forward", "forward+vjp"):
            specs = {}
            for label, (apply, parameter) in contenders.items():
                fn = (_forward(apply) if mode == "forward"
                      else _forward_and_vjp_with_parameter(apply, parameter))
                specs[label] = (fn, (x, parameter, cotangent))
            specs[FLOOR_LABEL] = ((lambda x, p, c: x * FLOOR_SCALE) if mode == "forward" else
                                  (lambda x, p, c: (x * FLOOR_SCALE, c * FLOOR_SCALE)),
                                  (x, None, cotangent))
            times, hlo = _time_compiled(specs, reps)
            common = {"group": group, "mode": mode, "n": n, "channels": num_channels,
                      "reference": WHERE_LABEL}
            for label, samples in times.items():
                rows.append({**common, "contender": label, **summary(samples), "status": "ok",
                             "ratio_reference": paired_ratio(samples, times[WHERE_LABEL]),
                             "ratio_leaky_relu": paired_ratio(samples, times[LEAKY_LABEL]),
                             "hlo": hlo[label]})
            for label, reason in absent.items():
                rows.append({**common, "contender": label, "median_s": None, "min_s": None,
                             "max_s": None, "status": f"absent ({reason})",
                             "ratio_reference": None, "ratio_leaky_relu": None, "hlo": None})
            ratio = paired_ratio(times[PRELU_LABEL], times[WHERE_LABEL])
            progress(f"{group} {mode}: jaxact.prelu / {WHERE_LABEL} = {ratio:.3f}")
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
        times, hlo = _time_compiled(specs, reps)
        for label, samples in times.items():
            rows.append({"group": "maxout", "mode": mode, "contender": label,
                         "shape": f"batch {batch}, {in_features}->{out_features}, "
                                  f"{num_pieces} pieces",
                         **summary(samples), "status": "ok", "reference": "Dense floor",
                         "ratio_reference": paired_ratio(samples, times["Dense floor"]),
                         "hlo": hlo[label]})
    progress("maxout")
    return rows
