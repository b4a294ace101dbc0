"""Every public function lowers for every platform JAX serves: CPU, CUDA, ROCm, TPU.

A CPU-only trick (a CPU custom call, a ``platform_dependent`` branch without
a default, a CPU-specific primitive) makes ``jax.export`` fail for the other
platforms; these tests lower without compiling, so they need no accelerator.
All the functions of one derivative order lower as one program, which costs
about as much as one function alone; a failure lowers each case alone to
name the ones that fail.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
import pytest

import jaxact

PLATFORMS = ("cpu", "cuda", "rocm", "tpu")

# Every elementwise function of jaxact.__all__, called as a user calls it:
# name -> (function, parameter names passed as scalar arrays of x's dtype). A
# function with a parameter is lowered twice: with its default (the
# compile-time-constant kernel) and with the parameter as an argument.
ELEMENTWISE = {
    "sigmoid": (jaxact.sigmoid, ()),
    "tanh": (jaxact.tanh, ()),
    "softplus": (jaxact.softplus, ()),
    "log_sigmoid": (jaxact.log_sigmoid, ()),
    "silu": (jaxact.silu, ()),
    "swish": (jaxact.swish, ()),
    "log1mexp": (jaxact.log1mexp, ()),
    "mish": (jaxact.mish, ()),
    "soft_sign": (jaxact.soft_sign, ()),
    "gelu": (jaxact.gelu, ()),
    "gelu(approximate=False)": (functools.partial(jaxact.gelu, approximate=False), ()),
    "relu": (jaxact.relu, ()),
    "selu": (jaxact.selu, ()),
    "relu6": (jaxact.relu6, ()),
    "hard_sigmoid": (jaxact.hard_sigmoid, ()),
    "hard_silu": (jaxact.hard_silu, ()),
    "hard_swish": (jaxact.hard_swish, ()),
    "hard_tanh": (jaxact.hard_tanh, ()),
    "sparse_plus": (jaxact.sparse_plus, ()),
    "sparse_sigmoid": (jaxact.sparse_sigmoid, ()),
    "generalized_logistic": (jaxact.generalized_logistic, ("alpha",)),
    "squareplus": (jaxact.squareplus, ("b",)),
    "leaky_relu": (jaxact.leaky_relu, ("negative_slope",)),
    "elu": (jaxact.elu, ("alpha",)),
    "celu": (jaxact.celu, ("alpha",)),
}
# The other public functions, each with the number of scalar arrays it takes after x.
OTHER = {
    "glu": (jaxact.glu, 0),
    "prelu": (jaxact.prelu, 1),
    "maxout(num_pieces=2)": (functools.partial(jaxact.maxout, num_pieces=2), 0),
}


def test_the_case_lists_cover_every_public_function():
    # A function added to jaxact.__all__ must be added here (or marked not a function).
    not_functions = {"diagnostics", "nn", "Maxout", "PReLU", "momentum_sgd", "weight_decay_mask"}
    covered = {name.split("(")[0] for name in (*ELEMENTWISE, *OTHER)}
    assert covered | not_functions == set(jaxact.__all__)


def _cases(dtype):
    """name -> (f(x, *params), avals of (x, *params)), x of 16 elements of ``dtype``."""
    x = jax.ShapeDtypeStruct((16,), dtype)
    scalar = jax.ShapeDtypeStruct((), dtype)
    cases = {}
    for name, (fn, params) in ELEMENTWISE.items():
        cases[name] = (fn, (x,))
        if params:
            cases[f"{name}({params[0]} as an argument)"] = (fn, (x, scalar))
    for name, (fn, num_params) in OTHER.items():
        cases[name] = (fn, (x, *[scalar] * num_params))
    return cases


def _grad(fn):
    """The gradient of sum(fn) in every argument."""
    def loss(*args):
        return jnp.sum(fn(*args).astype(jnp.float32))

    return jax.grad(loss, argnums=tuple(range(fn.__code__.co_argcount)))


def _with_arity(fn, arity):
    """``fn`` as a function of exactly ``arity`` positional arguments (for _grad)."""
    if arity == 1:
        return lambda x: fn(x)
    return lambda x, p: fn(x, p)


def _order(fn, arity, order):
    fn = _with_arity(fn, arity)
    if order == 0:
        return fn
    grad = _grad(fn)
    if order == 1:
        return grad
    # The second derivative: the gradient of the sum of the first's outputs.
    first = _with_arity(lambda *args: sum(jnp.sum(g) for g in grad(*args)), arity)
    return _grad(first)


def _export(fn, avals):
    return jax.export.export(jax.jit(fn), platforms=PLATFORMS)(*avals)


def _assert_all_lower(cases, order):
    """Lowers every case in one program; on failure, names each case that fails alone."""
    def together(*flat):
        out, start = {}, 0
        for name, (fn, avals) in cases.items():
            args = flat[start:start + len(avals)]
            start += len(avals)
            out[name] = _order(fn, len(avals), order)(*args)
        return out

    avals = [aval for _, case_avals in cases.values() for aval in case_avals]
    try:
        exported = _export(together, avals)
    except Exception:  # noqa: BLE001 - find which cases fail, then fail naming them
        failures = {}
        for name, (fn, case_avals) in cases.items():
            try:
                _export(_order(fn, len(case_avals), order), case_avals)
            except Exception as error:  # noqa: BLE001
                failures[name] = f"{type(error).__name__}: {str(error)[:300]}"
        raise AssertionError(f"do not lower for {PLATFORMS}: {failures}") from None
    assert exported.platforms == PLATFORMS
    return exported


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["float32", "bfloat16"])
def test_every_function_lowers_for_every_platform(dtype):
    cases = _cases(dtype)
    exported = _assert_all_lower(cases, 0)
    # Each result keeps x's shape and dtype (glu and maxout halve the axis).
    halved = {"glu", "maxout(num_pieces=2)"}
    for name, out in zip(sorted(cases), exported.out_avals, strict=True):
        assert out.dtype == jnp.dtype(dtype), name
        assert out.shape == ((8,) if name in halved else (16,)), name


@pytest.mark.parametrize("order", [1, 2], ids=["grad", "second grad"])
def test_every_derivative_lowers_for_every_platform(order):
    cases = _cases(jnp.float32)
    exported = _assert_all_lower(cases, order)
    # One gradient per argument of each case, x's first.
    assert len(exported.out_avals) == sum(len(avals) for _, avals in cases.values())


def _prelu_model(key):
    dense = {"w": jax.random.normal(key, (4, 3)), "b": jnp.zeros(3)}
    return {"dense": dense, "act": jaxact.PReLU.init(3)}


def _prelu_apply(params, x):
    return params["act"](x @ params["dense"]["w"] + params["dense"]["b"])


def _maxout_model(key):
    return {"maxout": jaxact.Maxout.init(key, 4, 3, num_pieces=2)}


def _maxout_apply(params, x):
    return params["maxout"](x)


@pytest.mark.parametrize("model", ["prelu", "maxout"])
def test_an_optax_training_step_lowers_for_every_platform(model):
    init, apply = {"prelu": (_prelu_model, _prelu_apply),
                   "maxout": (_maxout_model, _maxout_apply)}[model]
    params = init(jax.random.key(0))
    optimizer = jaxact.momentum_sgd(0.1, momentum=0.9, weight_decay=5e-4)
    state = optimizer.init(params)

    def step(params, state, x, y):
        def loss(params):
            return jnp.mean((apply(params, x) - y) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    def spec(leaf):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype)

    avals = jax.tree.map(spec, (params, state, jnp.zeros((5, 4)), jnp.zeros((5, 3))))
    exported = _export(step, avals)
    assert exported.platforms == PLATFORMS
    # The step returns parameters and optimiser state of the types it was given.
    want = [(leaf.shape, leaf.dtype) for leaf in jax.tree.leaves((params, state))]
    assert [(out.shape, out.dtype) for out in exported.out_avals[:len(want)]] == want
