"""Each activation is one compiled kernel: same bits however it is called.

The three ways a user meets a jaxact function (x an argument of jit, x a
constant that XLA knows at compile time, and ``jax.disable_jit()``) must give
bit-identical values and derivatives; the bfloat16 tanh must work on arrays
sharded over an Explicit mesh axis and under ``jax.transfer_guard``; and the
cheap path for common arguments must not skip the checks.
"""

from __future__ import annotations

import functools
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import jaxact
from jaxact._src import algebraic, checks, logistic, rectifiers
from tests.helpers import mlp_apply, mlp_init

REPO = pathlib.Path(__file__).resolve().parent.parent

UNARY = {
    "sigmoid": jaxact.sigmoid,
    "tanh": jaxact.tanh,
    "softplus": jaxact.softplus,
    "log_sigmoid": jaxact.log_sigmoid,
    "relu": jaxact.relu,
}
BINARY = {
    "elu": (jaxact.elu, 0.7),
    "leaky_relu": (jaxact.leaky_relu, 0.2),
    "generalized_logistic(alpha=0.5)": (jaxact.generalized_logistic, 0.5),
    "generalized_logistic(alpha=2)": (jaxact.generalized_logistic, 2.0),
    "prelu": (jaxact.prelu, 0.3),
}


def _float32_sweep(stride: int = 65_537) -> np.ndarray:
    """Every stride-th float32 bit pattern: all signs, exponents, NaN and inf."""
    return np.arange(0, 2**32, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _inputs(dtype) -> np.ndarray:
    if dtype == np.float32:
        return _float32_sweep()
    return np.arange(1 << 16, dtype=np.uint16).view(dtype)


def _assert_same_bits(got, want, context: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, context
    wide_got, wide_want = got.astype(np.float32), want.astype(np.float32)
    same = (got.view(f"u{got.itemsize}") == want.view(f"u{want.itemsize}")) | (
        np.isnan(wide_got) & np.isnan(wide_want))
    if not same.all():
        index = int(np.flatnonzero(~same)[0])
        raise AssertionError(
            f"{context}: {int((~same).sum())} of {same.size} differ, first at index {index}: "
            f"{got.ravel()[index]!r} vs {want.ravel()[index]!r}"
        )


def _quantities(name):
    """(label, function of x) pairs: the value and every derivative, elementwise."""
    if name in UNARY:
        fn = UNARY[name]
        return [("value", fn), ("d/dx", jax.vmap(jax.grad(fn)))]
    fn, param = BINARY[name]

    def d_dparam(x):
        # prelu computes in x's dtype, the others in float32 for half precision.
        p = jnp.asarray(param, x.dtype if name == "prelu" else jnp.float32)
        return jax.vmap(jax.grad(lambda p, v: fn(v, p)), in_axes=(None, 0))(p, x)

    return [
        ("value", lambda x: fn(x, param)),
        ("d/dx", jax.vmap(jax.grad(lambda x: fn(x, param)))),
        ("d/dparam", d_dparam),
    ]


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("name", list(UNARY) + list(BINARY))
def test_argument_constant_and_disable_jit_give_the_same_bits(name, dtype):
    # XLA simplifies arithmetic on a constant it knows at compile time
    # (generalized_logistic was 16 ULP off at alpha = 2, x = -14.560929), and
    # op-by-op evaluation cannot contract a * b + c into one rounding as a
    # fused kernel does: the kernel's input barrier and its compiled run under
    # disable_jit make all three the same.
    x = jnp.asarray(_inputs(dtype))
    for label, fn in _quantities(name):
        as_argument = jax.jit(fn)(x)
        as_constant = jax.jit(lambda fn=fn: fn(x))()
        with jax.disable_jit():
            eager = fn(x)
        _assert_same_bits(as_constant, as_argument, f"{name} {label}: constant vs argument")
        _assert_same_bits(eager, as_argument, f"{name} {label}: disable_jit vs argument")


def test_generalized_logistic_of_a_constant_keeps_its_rounding():
    # The case that the audit found: 16 ULP off when XLA folded it.
    x = jnp.float32(-14.560929)
    want = jax.jit(functools.partial(jaxact.generalized_logistic, alpha=2.0))(x)
    got = jax.jit(lambda: jaxact.generalized_logistic(x, 2.0))()
    exact = (1 + np.exp(-np.float64(x))) ** -2.0
    assert abs(float(got) - exact) <= 2 * float(np.spacing(np.float32(exact)))
    _assert_same_bits(got, want, "generalized_logistic(-14.560929, 2) as a constant")


def test_a_float_array_and_a_plain_float_parameter_are_not_converted_again():
    # The eager fast path: a floating jax.Array is passed on as it is, and an
    # ordinary Python float parameter reaches the kernel, which casts it.
    x = jnp.ones(3, jnp.float32)
    checks.as_float_array("sigmoid", x)  # the first call learns the array class
    assert checks.as_float_array("sigmoid", x) is x
    assert checks.as_kernel_parameter(
        "elu", "alpha", 0.5, jnp.float32, minimum=0.0, inclusive=True) == 0.5
    # ... but never skips a check.
    with pytest.raises(ValueError, match=r"jaxact\.elu: alpha must be >= 0.0 and finite, got -0.5"):
        jaxact.elu(x, -0.5)
    with pytest.raises(ValueError, match=r"jaxact\.generalized_logistic: alpha must be > 0"):
        jaxact.generalized_logistic(x, 0.0)
    with pytest.raises(TypeError, match=r"jaxact\.sigmoid: x must be real"):
        jaxact.sigmoid(x.astype(jnp.complex64))
    with pytest.raises(TypeError, match=r"jaxact\.tanh: x must be an array or a number"):
        jaxact.tanh([1.0, 2.0])
    # Integer arrays still promote, and a Python float gives the same bits as
    # the array it stands for.
    assert jaxact.sigmoid(jnp.arange(3)).dtype == jnp.float32
    _assert_same_bits(jaxact.elu(-x, 0.7), jaxact.elu(-x, jnp.float32(0.7)), "elu(-1, 0.7)")
    _assert_same_bits(jaxact.leaky_relu(-x, 0.1), jaxact.leaky_relu(-x, jnp.float32(0.1)),
                      "leaky_relu(-1, 0.1)")


DEFAULTED = {
    # public function, the parameter's name
    "leaky_relu": (jaxact.leaky_relu, "negative_slope"),
    "elu": (jaxact.elu, "alpha"),
    "celu": (jaxact.celu, "alpha"),
    "squareplus": (jaxact.squareplus, "b"),
    "generalized_logistic": (jaxact.generalized_logistic, "alpha"),
}


@pytest.mark.parametrize("name", list(DEFAULTED))
def test_default_parameter_kernel_gives_the_bits_of_the_general_one(name):
    # An eager call with the default parameter runs a kernel compiled with
    # it as a constant (no copy of a Python float per call): it must be the
    # public default and give the bits of the parameter passed as an array.
    fn, param_name = DEFAULTED[name]
    module = {"squareplus": algebraic, "generalized_logistic": logistic}.get(name, rectifiers)
    kernel = getattr(module, f"_{name}")
    default = inspect.signature(fn).parameters[param_name].default
    assert kernel.default_param == float(default), name
    x = jnp.asarray(_float32_sweep())
    as_array = jnp.float32(default)
    _assert_same_bits(fn(x), fn(x, as_array), f"{name} default vs array")
    _assert_same_bits(fn(x), jax.jit(fn)(x), f"{name} eager default vs jit")
    grad = jax.vmap(jax.grad(fn))
    _assert_same_bits(grad(x), jax.vmap(jax.grad(lambda v: fn(v, as_array)))(x),
                      f"{name} d/dx default vs array")


def test_explicit_mesh_and_transfer_guard_in_a_fresh_process():
    # A fresh process, so that the first call of each function happens under
    # the transfer guard (the bfloat16 tanh table, now gone, was built then,
    # from host data, and failed), and on eight host devices.
    script = textwrap.dedent(
        """
        import functools
        import jax
        import jax.numpy as jnp
        import numpy as np
        from jax.sharding import AxisType, NamedSharding, PartitionSpec as P
        import jaxact

        fns = {
            "sigmoid": jaxact.sigmoid, "tanh": jaxact.tanh, "softplus": jaxact.softplus,
            "log_sigmoid": jaxact.log_sigmoid, "relu": jaxact.relu,
            "elu": functools.partial(jaxact.elu, alpha=0.7),
            "leaky_relu": jaxact.leaky_relu,
            "generalized_logistic": functools.partial(jaxact.generalized_logistic, alpha=2.0),
        }
        x = {dt: jnp.linspace(-6, 6, 16, dtype=dt) for dt in (jnp.bfloat16, jnp.float32)}
        unary = ("sigmoid", "tanh", "softplus", "log_sigmoid", "relu")
        with jax.transfer_guard("disallow"):  # (a Python-float parameter is a transfer)
            first = {(n, dt): fns[n](x[dt]) for n in unary for dt in x}
        first.update({(n, dt): f(x[dt]) for n, f in fns.items() for dt in x if n not in unary})
        mesh = jax.make_mesh((4,), ("data",), axis_types=(AxisType.Explicit,))
        sharding = NamedSharding(mesh, P("data"))
        for (name, dt), want in first.items():
            fn = fns[name]
            sharded = jax.device_put(x[dt], sharding)
            with jax.set_mesh(mesh):
                got = jax.jit(fn)(sharded)
                grad = jax.jit(jax.grad(lambda v: fn(v).astype(jnp.float32).sum()))(sharded)
            assert got.sharding.is_equivalent_to(sharding, 1), name
            np.testing.assert_array_equal(np.asarray(got, np.float32),
                                          np.asarray(want, np.float32), err_msg=name)
            want_grad = jax.vmap(jax.grad(fn))(x[dt])
            np.testing.assert_array_equal(np.asarray(grad, np.float32),
                                          np.asarray(want_grad, np.float32), err_msg=name)
        print("ok")
        """
    )
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
           "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, timeout=300,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


# Every public function built on jvp.kernel, as called eagerly by a user.
EAGER = {
    **{name: getattr(jaxact, name) for name in (
        "sigmoid", "tanh", "softplus", "log_sigmoid", "relu", "leaky_relu", "elu", "silu",
        "mish", "log1mexp", "soft_sign", "squareplus", "gelu", "selu", "celu", "relu6",
        "hard_sigmoid", "hard_silu", "hard_tanh", "sparse_plus", "sparse_sigmoid")},
    "gelu_exact": functools.partial(jaxact.gelu, approximate=False),
    "generalized_logistic": functools.partial(jaxact.generalized_logistic, alpha=2.0),
    "elu(alpha=0.7)": functools.partial(jaxact.elu, alpha=0.7),
}


def _kernels():
    from jaxact._src import gaussian, hyperbolic, logistic, piecewise

    for module in (algebraic, gaussian, hyperbolic, logistic, piecewise, rectifiers):
        for name, value in sorted(vars(module).items()):
            if hasattr(value, "in_chunks"):
                yield f"{module.__name__.rsplit('.', 1)[1]}.{name}", value


@pytest.mark.parametrize("name, kernel", list(_kernels()), ids=[n for n, _ in _kernels()])
def test_eager_chunks_run_on_the_calling_thread(name, kernel):
    # XLA's CPU client runs an executable inline only below 1,000 flops of
    # its cost analysis (see jvp.kernel); above, an eager call pays a handoff
    # to a worker thread. A heavier kernel, or an XLA that counts the loop
    # differently, fails here: give that kernel a smaller eager_chunk.
    from jaxact._src.jvp import EAGER_CHUNKED_MAX, EAGER_CHUNKED_MAX_HALF

    params = (0.5,) if kernel.default_param is not None or "generalized" in name else ()
    for n, dtype in ((EAGER_CHUNKED_MAX - 3, jnp.float32), (EAGER_CHUNKED_MAX_HALF, jnp.bfloat16),
                     (EAGER_CHUNKED_MAX_HALF, jnp.float8_e4m3fn)):
        x = jnp.ones(n, dtype)
        analysis = kernel.in_chunks.lower(x, *params).compile().cost_analysis()
        if isinstance(analysis, list):
            analysis = analysis[0]
        assert analysis["flops"] < 1000, f"{name} at {n} {dtype.__name__}: {analysis['flops']}"


@pytest.mark.parametrize("name", list(EAGER))
def test_eager_chunks_give_the_bits_of_the_whole_kernel(name):
    from jaxact._src.jvp import EAGER_CHUNKED_MAX, EAGER_CHUNKED_MAX_HALF, _runs_in_chunks

    fn = EAGER[name]
    for dtype, size in ((np.float32, EAGER_CHUNKED_MAX), (np.float32, 100),
                        (ml_dtypes.bfloat16, EAGER_CHUNKED_MAX_HALF), (np.float16, 9)):
        values = _inputs(dtype)
        whole = np.asarray(jax.jit(fn)(jnp.asarray(values)))
        # 16 windows spread over the sweep (each window size compiles once).
        for start in np.linspace(0, values.size - size, 16).astype(int):
            window = jnp.asarray(values[start:start + size].reshape(-1, 1 if size % 2 else 2))
            assert _runs_in_chunks((window,), 4), "the chunked path is not taken"
            _assert_same_bits(fn(window).ravel(), whole[start:start + size],
                              f"{name} {np.dtype(dtype).name} x[{start}:{start + size}] eager")


@pytest.mark.parametrize("name", [*EAGER, "glu"])
def test_eager_calls_keep_the_dtype_and_weak_type_of_a_jitted_call(name):
    # The chunked eager path must not change what the result is: a weakly
    # typed input (jnp.full with a Python float) and integer and bool inputs.
    # A jitted call's result type is that of its trace: eval_shape gives it
    # without compiling the whole kernel for each input.
    fn = jaxact.glu if name == "glu" else EAGER[name]
    for x in (jnp.full(100, 0.5), jnp.linspace(-3.0, 3.0, 100), jnp.arange(-50, 50),
              jnp.arange(100) % 3 == 0):
        eager, jitted = fn(x), jax.eval_shape(jax.jit(fn), x)
        assert (eager.dtype, eager.weak_type) == (jitted.dtype, jitted.weak_type), (name, x.dtype)
        if hasattr(jax.nn, name) and jnp.issubdtype(x.dtype, jnp.floating):
            reference = jax.eval_shape(getattr(jax.nn, name), x)
            assert eager.weak_type == reference.weak_type, (name, "jax.nn")



@pytest.mark.parametrize("name", list(EAGER))
def test_a_second_derivative_keeps_the_inputs_not_the_rule_s_intermediates(name):
    # Differentiating a JVP rule (a second derivative) differentiates the
    # derivative's arithmetic. Its derivative pass is checkpointed, so the
    # pullback keeps the inputs and recomputes, rather than keeping every
    # intermediate: otherwise an eager second derivative compiles one program
    # with a hundred outputs (generalized_logistic float64: 137 kept arrays,
    # 1.8 s to compile), and the value of a rule with a parameter was
    # differentiated through its own arithmetic instead of the rule.
    fn = EAGER[name]
    x = jnp.linspace(-3.0, 3.0, 16)

    def value_and_tangent(x):
        return jax.jvp(fn, (x,), (jnp.ones_like(x),))

    pullback = jax.eval_shape(lambda x: jax.vjp(value_and_tangent, x)[1], x)
    kept = jax.tree_util.tree_leaves(pullback)
    assert len(kept) <= 6, f"{name}: the pullback keeps {len(kept)} arrays"


def _mlp_grad_temp_bytes(activation) -> int:
    """Temporary bytes of the compiled gradient of an MLP with two hidden layers
    (batch 128, width 256)."""
    params = mlp_init(jax.random.key(0), (256, 256, 256, 256))
    x = jnp.ones((128, 256))

    def loss(params):
        return jnp.sum(mlp_apply(params, x, activation)[0])

    return jax.jit(jax.grad(loss)).lower(params).compile().memory_analysis().temp_size_in_bytes


@functools.cache
def _relu_mlp_grad_temp_bytes() -> int:
    return _mlp_grad_temp_bytes(jax.nn.relu)


@pytest.mark.parametrize("name", list(EAGER))
def test_a_network_keeps_no_more_temporary_arrays_than_with_relu(name):
    # A JVP rule computes the value and the derivative from x in two fused
    # passes (numerics.separate). Were XLA to merge them again, a costly
    # intermediate the two share (mish's and gelu's divides) would be kept
    # in memory from the forward to the backward pass: one more
    # activation-sized array per layer than the relu network keeps. celu's
    # select feeding a divide did the same (rectifiers._celu_parts).
    activation_bytes = 128 * 256 * 4
    extra = _mlp_grad_temp_bytes(EAGER[name]) - _relu_mlp_grad_temp_bytes()
    assert extra < activation_bytes / 2, f"{name}: {extra / activation_bytes:.2f} arrays more"


def _pinn_step_temp_bytes(activation) -> int:
    """Temporary bytes of a compiled SGD step on the mean squared Laplacian
    (by jax.hessian) of a 2-64-64-1 MLP at 64 points: the activation's
    third derivative is in the gradient."""
    params = mlp_init(jax.random.key(0), (2, 64, 64, 1))
    points = jax.random.uniform(jax.random.key(1), (64, 2), minval=-1.0, maxval=1.0)

    def u(params, point):
        return mlp_apply(params, point, activation)[0][0]

    def loss(params):
        def laplacian(point):
            return jnp.trace(jax.hessian(u, argnums=1)(params, point))
        return jnp.mean(jax.vmap(laplacian)(points) ** 2)

    step = jax.jit(jax.value_and_grad(loss))
    return step.lower(params).compile().memory_analysis().temp_size_in_bytes


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "mish"])
def test_a_laplacian_step_keeps_no_more_temporary_memory_than_jax_nn(name):
    # The derivative's own rule (unary_activation's second_derivative) makes
    # every higher derivative a polynomial in the value and the derivative
    # (mish: closed forms in exp(-|x|)); autodiff of the derivative's
    # arithmetic, twice over in a gradient of a Hessian, kept 1.4 times
    # jax.nn's temporary memory (mish, through its error-free sums, more).
    jaxact_bytes = _pinn_step_temp_bytes(getattr(jaxact, name))
    reference_bytes = _pinn_step_temp_bytes(getattr(jax.nn, name))
    assert jaxact_bytes <= reference_bytes, f"{name}: {jaxact_bytes / reference_bytes:.2f}x"
