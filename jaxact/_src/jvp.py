"""The ``custom_jvp`` builders every elementwise activation is made with.

A public function converts and checks its arguments (naming itself in any
error), then calls a ``jax.custom_jvp`` built here from one function that
returns the value and the derivative(s). The value and the derivative are
each one fused pass over memory (see :func:`jaxact._src.numerics.separate`
for why they do not share their ``exp``).

Floating inputs narrower than float32 (bfloat16, float16 and every float8
and float4 type of ml_dtypes) are computed in float32 and rounded once at the
end, by XLA's conversion (ml_dtypes' rounding: to nearest even, NaN where the
type has one, its saturation or NaN out of range), so their results are the
float32 results rounded once to the narrower type.

Subnormals, one way on every path: a value below the smallest normal number
of the compute type (float32 or float64) is a zero of its sign. The input is
flushed on entry (:func:`upcast`; on the CPU only where it could reach a
result without passing through arithmetic, which reads it as that zero) and a
result is flushed before it is rounded to a narrower type (:func:`narrowed`),
both with integer operations on the bits
(:func:`jaxact._src.numerics.flush_subnormals`). XLA's CPU runtime
flushes subnormals in arithmetic (FTZ/DAZ) but not in a select, a native
conversion (one x86 instruction flushes where XLA's software conversion
keeps) or a constant fold, and which of those a kernel gets depends on the
ISA it is compiled for; the explicit flush makes every path agree.
float16 and float8 subnormals are normal in float32 and are kept.

Every activation is one compiled kernel, and gives the same bits however it
is called (see :func:`kernel`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

# disable_jit and eager_constant_folding: private JAX switches, looked up in
# jax_internals (which fails loudly without them); reading a switch's value
# directly skips the attribute lookup of jax.config.
from jaxact._src.jax_internals import disable_jit, eager_constant_folding, with_weak_type
from jaxact._src.numerics import flush_subnormals, separate


def is_narrow(dtype) -> bool:
    """True for a floating dtype narrower than float32 (computed in float32)."""
    dtype = jnp.dtype(dtype)
    return jnp.issubdtype(dtype, jnp.floating) and dtype.itemsize < 4


# Cached: jnp.dtype parses its argument each time, and every eager call of a
# function with a parameter asks for its compute dtype.
@functools.cache
def compute_dtype(dtype):
    return jnp.dtype(jnp.float32) if is_narrow(dtype) else jnp.dtype(dtype)


def upcast(x: jax.Array, *, flush_on_cpu: bool = True) -> jax.Array:
    """An input x in its compute dtype, subnormals flushed (see the module docstring).

    For primal values only: the flush is not linear, so a tangent is
    converted with :func:`cast`.

    ``flush_on_cpu=False`` is for a kernel whose every path from x to a
    result goes through floating-point arithmetic, never through a select,
    a bit operation or a conversion alone: on the CPU, where XLA runs every
    kernel with subnormals read and written as zeros (DAZ/FTZ), that
    arithmetic already reads a subnormal x as the zero of its sign, so the
    explicit flush would only cost its integer operations. Other platforms
    keep it.
    """
    x = cast(x, compute_dtype(x.dtype))
    if flush_on_cpu:
        return flushed(x)
    return jax.lax.platform_dependent(x, cpu=lambda x: x, default=flushed)


def narrowed(y: jax.Array, dtype) -> jax.Array:
    """A computed value y rounded to a narrow ``dtype``, subnormals flushed first.

    The flush makes a native conversion instruction (x86's bfloat16 one
    flushes) and XLA's software conversion (which keeps) give the same bits.
    For primal values only, as upcast. To any other ``dtype``, y is returned
    as it is (the dtype it was computed in).
    """
    if y.dtype == dtype or not is_narrow(dtype):
        return y
    return cast(flushed(y), dtype)


def flushed(x: jax.Array) -> jax.Array:
    """x with its float32 (float64) subnormals flushed, if floating (see the module docstring).

    Also for the rules that select on x in its own dtype (relu, hard_tanh)
    instead of computing from :func:`upcast`.
    """
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return x
    # bfloat16's subnormals are float32's, flushed in its own format; other
    # narrow values are flushed as their float32 values are (of which only
    # float8_e8m0fnu's 2^-127 is subnormal, and it has no zero: NaN).
    if not is_narrow(x.dtype) or x.dtype == jnp.bfloat16:
        return flush_subnormals(x)
    if jnp.finfo(x.dtype).smallest_subnormal >= jnp.finfo(jnp.float32).tiny:
        return x
    return cast(flush_subnormals(x.astype(jnp.float32)), x.dtype)


def own_or_wide(x: jax.Array) -> jax.Array:
    """x flushed, in its own dtype where that has 0 and ±1, else in float32.

    For rules that select between x and constants (relu, hard_tanh): a
    bfloat16 or float16 x stays in its dtype (no conversion to pay), a
    one-byte x (float8_e8m0fnu has no 0 or -1) is compared in float32.
    """
    return upcast(x) if is_narrow(x.dtype) and x.dtype.itemsize == 1 else flushed(x)


def cast(x: jax.Array, dtype) -> jax.Array:
    # Skipping a same-dtype astype keeps a weakly typed Python-scalar input
    # weakly typed, as jax.numpy functions do.
    return x if x.dtype == dtype else x.astype(dtype)


# An eager call on at most this many elements runs in chunks (see kernel);
# fewer in a narrow dtype, whose conversions XLA counts outside the loop.
EAGER_CHUNKED_MAX = 1024
EAGER_CHUNKED_MAX_HALF = 64
# Elements per chunk: one AVX2 vector of float32, and under XLA's 1,000-flop
# threshold for every activation whose value costs under about 110 flops per
# element; the costlier ones use 4 (a test checks each chunked executable).
EAGER_CHUNK = 8
# Types of concrete (not traced) arrays, learned from the first one seen.
_CONCRETE_ARRAYS: set[type] = set()


# Whether each sharding type seen places an array on one device, as a
# SingleDeviceSharding (not a one-device mesh, on which the loop's row
# updates need an explicit output sharding); jax 0.12 deprecates that name
# in favour of the test below.
_SINGLE_DEVICE_TYPES: dict[type, bool] = {}
_is_single_device_sharding = getattr(
    jax.sharding, "is_single_device_sharding",
    lambda sharding: isinstance(sharding, jax.sharding.SingleDeviceSharding))


def _on_one_cpu_device(sharding) -> bool:
    """True when ``sharding`` places the whole array on one CPU device."""
    kind = type(sharding)
    single = _SINGLE_DEVICE_TYPES.get(kind)
    if single is None:
        single = _SINGLE_DEVICE_TYPES[kind] = _is_single_device_sharding(sharding)
    if not single:
        return False
    for device in sharding.device_set:  # the one device
        return device.platform == "cpu"
    return False


def _runs_in_chunks(args, chunk: int) -> bool:
    """True for an eager call on a small array on one CPU device, other arguments scalars.

    The chunks answer the CPU client's threading rule (see kernel); on
    another platform a loop of chunks would only add device steps.
    """
    x = args[0]
    kind = type(x)
    if kind not in _CONCRETE_ARRAYS:
        if not isinstance(x, jax.Array) or isinstance(x, jax.core.Tracer):
            return False
        _CONCRETE_ARRAYS.add(kind)
    # Read through the aval, and the size multiplied out here: each is a
    # fraction of the array's own properties, and this runs on every call.
    aval = x.aval
    size = 1
    for n in aval.shape:
        size *= n
    if not chunk < size <= (EAGER_CHUNKED_MAX_HALF if aval.dtype.itemsize < 4
                            else EAGER_CHUNKED_MAX):
        return False
    if not _on_one_cpu_device(x.sharding):
        return False
    for param in args[1:]:
        if type(param) is not float and (type(param) not in _CONCRETE_ARRAYS or param.ndim):
            return False
    return True


def _in_chunks(activation, chunk: int, x: jax.Array, *params) -> jax.Array:
    """activation(x, *params) computed ``chunk`` elements at a time by a loop.

    The loop overwrites the rows of x itself: XLA counts a fresh output
    buffer (a broadcast) per element outside the loop, against the
    1,000-flop threshold (see kernel). A narrow floating x is held as
    unsigned integers of its width, because XLA updates a bfloat16, float16
    or float8 buffer row by row only by converting all of it to float32 and
    back on every step. A 4-bit x (packed two to a byte by XLA, which fails
    to compile the bitcast in the loop) is computed whole.
    """
    # The result's dtype and weak type are the whole kernel's (an integer
    # input of relu or hard_tanh, say, is computed whole).
    whole = jax.eval_shape(lambda x: activation(x, *params), x)
    if whole.dtype != x.dtype or (is_narrow(x.dtype) and jnp.finfo(x.dtype).bits % 8):
        return activation(x, *params)
    flat = x.ravel()
    padding = -flat.size % chunk
    rows = (jnp.pad(flat, (0, padding)) if padding else flat).reshape(-1, chunk)
    half = is_narrow(x.dtype)

    def step(i, rows):
        row = jax.lax.dynamic_index_in_dim(rows, i, keepdims=False)
        if half:
            row = jax.lax.bitcast_convert_type(row, x.dtype)
        y = activation(row, *params)
        return rows.at[i].set(jax.lax.bitcast_convert_type(y, rows.dtype) if half else y)

    if half:
        rows = jax.lax.bitcast_convert_type(rows, jnp.dtype(f"uint{8 * x.dtype.itemsize}"))
    rows = jax.lax.fori_loop(0, rows.shape[0], step, rows)
    if half:
        rows = jax.lax.bitcast_convert_type(rows, x.dtype)
    return with_weak_type(rows.ravel()[: flat.size].reshape(x.shape), whole.weak_type)


def kernel(activation, *, default_param: float | None = None, eager_chunk: int = EAGER_CHUNK,
           weak_as_inputs: bool = True):
    """``activation`` (a ``custom_jvp``) as one jitted call that gives the same bits everywhere.

    * Called eagerly, a jitted function costs one dispatch of a cached
      executable instead of tracing the ``custom_jvp`` on every call.
    * Under ``jax.disable_jit()`` it still runs compiled, as a JAX primitive
      does: evaluated op by op it could not give the same results, because
      XLA contracts ``a * b + c`` into one rounding (an FMA) inside a fused
      kernel and cannot across separate ops.
    * It is called with JAX's eager constant folding switched off. Inside
      ``jax.ensure_compile_time_eval()`` JAX evaluates every operation on
      constants while tracing, the barrier of numerics.opaque included, and
      XLA then folds the constant it gets back: sigmoid(0.6) came out 0.667
      instead of 0.646, and gradients were off as well. The switch is off
      for the whole call, derivative rules and the transformations of its
      jaxpr included; reading it costs a tenth of entering the context, so
      the context is entered only when it is on.
    * Its inputs go through a barrier first (see guard_inputs), so that an
      input XLA knows at compile time is not folded by XLA's simplifier,
      which reassociates the error-free arithmetic (the barrier costs
      nothing: it does not split the fusion).
    * ``default_param``, for ``activation(x, param)``: a call whose param
      is this Python float runs a kernel compiled with it as a constant.
      A Python float argument of a jitted function is copied to the device
      on every call, which costs an eager call on a small array as much as
      the activation itself; the barrier keeps the constant from being
      folded, so the bits are those of the general kernel.
    * An eager call on a small array (up to EAGER_CHUNKED_MAX elements, on
      one CPU device, any parameter a scalar) runs a loop over chunks of
      ``eager_chunk`` elements instead. XLA's CPU client runs an executable
      on the calling thread only when its cost analysis counts fewer than
      1,000 flops, and counts a loop's body once; any other executable is
      handed to a worker thread, which costs an eager call several times
      the activation's own time on a loaded machine. The accurate
      arithmetic counts 10 to 140 flops per element, so even 128 elements
      would be handed over (jax.nn's 3 to 8 flops are not). Each chunk
      does the same arithmetic per element, so the bits are the same.
    * With ``weak_as_inputs``, the result is weakly typed exactly when every
      argument is, as in jax.numpy (the arithmetic's strongly typed
      constants would make ``sigmoid(0.5) * bfloat16_array`` float32). It is
      decided while tracing, so an eager call pays nothing for it; without
      it the result keeps the computed type (gelu: strong, as jax.nn.gelu).
    """
    if weak_as_inputs:
        activation = _weak_as_inputs(activation)
    jitted = jax.jit(activation)
    chunked = jax.jit(functools.partial(_in_chunks, activation, eager_chunk))
    if default_param is not None:
        def with_default_param(x):
            return activation(x, default_param)

        with_default = jax.jit(with_default_param)
        chunked_default = jax.jit(functools.partial(_in_chunks, with_default_param, eager_chunk))

    # One Python frame between the public function and the executable: on an
    # eager call of a small array, Python work is most of the call's time.
    @functools.wraps(activation)
    def call(*args):
        whole, in_chunks = jitted, chunked
        if default_param is not None and type(args[1]) is float and args[1] == default_param:
            whole, in_chunks, args = with_default, chunked_default, args[:1]
        target = in_chunks if _runs_in_chunks(args, eager_chunk) else whole
        if eager_constant_folding.value or disable_jit.value:
            return _compiled_and_staged(target, args)
        return target(*args)

    call.default_param = default_param  # type: ignore[attr-defined]
    call.in_chunks = chunked  # type: ignore[attr-defined]
    return call


def _weak_as_inputs(activation):
    """``activation`` with a result weakly typed exactly when every argument is."""
    @functools.wraps(activation)
    def typed(*args):
        result = activation(*args)
        weak_type = all(jax.typeof(arg).weak_type for arg in args)
        return result if result.weak_type == weak_type else with_weak_type(result, weak_type)

    return typed


def _compiled_and_staged(target, args):
    """target(*args) with jit on and eager constant folding off (see kernel)."""
    with jax.disable_jit(False), eager_constant_folding(False):
        return target(*args)


def guard_inputs(*args):
    """``args`` unchanged, behind one barrier XLA cannot constant-fold through."""
    return jax.lax.optimization_barrier(args)


def unary_activation(value_and_derivative, *, cpu_bfloat16_value=None,
                     second_derivative=None,
                     eager_chunk: int = EAGER_CHUNK, weak_as_inputs: bool = True,
                     flush_on_cpu: bool = True):
    """f(x) as a ``custom_jvp`` from ``value_and_derivative(x) -> (f(x), f'(x))``.

    The primal is one fused pass; the JVP rule computes the value from x and
    the derivative from a separated x (see separate), each in its own fused
    pass.

    ``cpu_bfloat16_value(x32) -> float32``, if given, computes the value of
    a bfloat16 input on the CPU instead: a cheaper float32 function whose
    rounding to bfloat16 equals that of f at all 2^16 bfloat16 inputs (its
    test checks every one). The derivative is always computed.

    ``second_derivative(x, y, dy) -> f''(x)``, if given, is f'' as a function
    of x (in its compute dtype), the value y = f(x) and the derivative
    dy = f'(x) (tanh: -2 y dy). The derivative is then a ``custom_jvp`` of
    its own, whose rule is that function of the two accurate kernels (and of
    any other accurate kernel it calls), so every higher derivative is built
    from accurate kernels: without it, a second derivative autodiffs the
    derivative's own arithmetic (its exp, its error-free sums), and a third
    autodiffs that again, which multiplies the program and the residuals a
    ``jax.hessian`` pullback keeps.

    ``eager_chunk``, ``weak_as_inputs``: see kernel (a smaller chunk for the
    costliest activations). ``flush_on_cpu``: see upcast.
    """
    def value(x: jax.Array) -> jax.Array:
        y, _ = value_and_derivative(upcast(x, flush_on_cpu=flush_on_cpu))
        return narrowed(y, x.dtype)

    def cpu_bfloat16(x: jax.Array) -> jax.Array:
        return narrowed(cpu_bfloat16_value(upcast(x, flush_on_cpu=flush_on_cpu)), x.dtype)

    def slope(separated: jax.Array) -> jax.Array:
        return value_and_derivative(upcast(separated, flush_on_cpu=flush_on_cpu))[1]

    # Checkpointed: differentiated again (a second derivative), it keeps x and
    # recomputes, rather than keeping each of its intermediates for the
    # pullback. Under jit XLA gives the same program either way; eagerly each
    # kept intermediate is one more output of a program compiled on the spot.
    # (x itself is unused: see the rule below.)
    @jax.checkpoint
    def derivative(x, separated):
        return slope(separated)

    @jax.custom_jvp
    def activation(x: jax.Array) -> jax.Array:
        (x,) = guard_inputs(x)
        if cpu_bfloat16_value is None or x.dtype != jnp.bfloat16:
            return value(x)
        return jax.lax.platform_dependent(x, cpu=cpu_bfloat16, default=value)

    if second_derivative is not None:
        # In place of the checkpointed derivative: its own arithmetic is
        # never differentiated. Computed from the separated x; the value in
        # its rule from x itself (the two are the same numbers), which is
        # the value jvp computes as well, so XLA computes it once.
        @jax.custom_jvp
        def derivative_with_rule(x, separated):
            return slope(separated)

        @derivative_with_rule.defjvp
        def derivative_jvp(primals, tangents):
            (x, separated), (_, separated_dot) = primals, tangents
            dy = derivative_with_rule(x, separated)
            # A narrow x: the value in the compute dtype, not rounded.
            y = activation(x if x.dtype == dy.dtype else separated)
            second = second_derivative(upcast(separated, flush_on_cpu=flush_on_cpu), y, dy)
            return dy, cast(separated_dot, dy.dtype) * second

        derivative = derivative_with_rule

    def jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        # The value through `activation` itself: differentiating this rule
        # (a second derivative) then goes through the rule again, never
        # through the value's own arithmetic (nor through cpu_bfloat16_value,
        # which may be one whose autodiff derivative is poor).
        y = activation(x)
        # Behind the barrier as the value is (see kernel): otherwise XLA
        # folds a compile-time-constant x into the derivative's arithmetic.
        (guarded,) = guard_inputs(x)
        dy = derivative(x, separate(guarded))
        return y, cast(cast(x_dot, dy.dtype) * dy, x.dtype)

    activation.defjvp(jvp)
    return kernel(activation, eager_chunk=eager_chunk, weak_as_inputs=weak_as_inputs)


def binary_activation(value_and_partials, *, default_param: float | None = None,
                      second_partial=None,
                      eager_chunk: int = EAGER_CHUNK, flush_on_cpu: bool = True):
    """f(x, p) as a ``custom_jvp`` from ``value_and_partials(x, p) -> (f, df/dx, df/dp)``.

    The parameter p is cast to x's compute dtype inside (float32 for half
    precision), so a Python number may be passed as it is; ``default_param``
    is the public function's default p, ``eager_chunk`` as in kernel,
    ``flush_on_cpu`` as in upcast.

    The rule is registered with ``symbolic_zeros=True``: a parameter that is
    not being differentiated contributes no term at all, rather than a zero
    tangent times df/dp, which is NaN where df/dp is infinite (leaky_relu's
    df/dslope = x at x = -inf) and costs a pass of arithmetic everywhere else.

    ``second_partial(i, j, x, p, first) -> d^2 f / (d_i d_j)``, if given, is
    a second partial (i <= j; 1 stands for x, 2 for p) as a function of x (in
    its compute dtype), p and ``first(k)``: the accurate kernel of f (k = 0,
    in the compute dtype) or of its partial k. The partials are then a
    ``custom_jvp`` whose rule is that function, as unary_activation's
    ``second_derivative`` makes the derivative one: every higher derivative
    composes accurate kernels instead of differentiating the partials' own
    arithmetic. It is called only for the pairs the tangents ask for, and
    ``first`` computes only the kernels it is asked for (for the reason
    below).
    """
    def computed_partials(separated, param, wanted):
        return tuple(value_and_partials(upcast(separated, flush_on_cpu=flush_on_cpu), param)[i]
                     for i in wanted)

    # Checkpointed, as unary_activation's derivative. Only the partials the
    # tangents ask for: a partial computed and left unused still has
    # derivatives, and a zero cotangent times an infinite one of them is NaN
    # (squareplus's dy/db = 1 / (4 r) at tiny x with b = 0, in jax.hessian).
    # (x itself is unused: see the rule below.)
    @functools.partial(jax.checkpoint, static_argnums=(3,))
    def partials(x, separated, param, wanted):
        return computed_partials(separated, param, wanted)

    @jax.custom_jvp
    def activation(x: jax.Array, param: jax.Array) -> jax.Array:
        x, param = guard_inputs(x, param)
        y, _, _ = value_and_partials(upcast(x, flush_on_cpu=flush_on_cpu),
                                     cast(param, compute_dtype(x.dtype)))
        return narrowed(y, x.dtype)

    if second_partial is not None:
        # In place of the checkpointed partials, as unary_activation's
        # derivative_with_rule; the value in the rule from x itself.
        @functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
        def partials_with_rule(x, separated, param, wanted):
            return computed_partials(separated, param, wanted)

        @functools.partial(partials_with_rule.defjvp, symbolic_zeros=True)
        def partials_jvp(wanted, primals, tangents):
            (x, separated, param), (_, separated_dot, param_dot) = primals, tangents
            computed = partials_with_rule(x, separated, param, wanted)
            kernels = dict(zip(wanted, computed, strict=True))

            def first(k):
                if k not in kernels:
                    # A narrow x: the value in the compute dtype, not rounded.
                    kernels[k] = (
                        activation(x if x.dtype == separated.dtype else separated, param)
                        if k == 0 else partials_with_rule(x, separated, param, (k,))[0])
                return kernels[k]

            x_in = upcast(separated, flush_on_cpu=flush_on_cpu)
            dots = [(j, dot) for j, dot in ((1, separated_dot), (2, param_dot))
                    if not isinstance(dot, SymbolicZero)]
            out = []
            for i, d in zip(wanted, computed, strict=True):
                terms = [cast(dot, d.dtype) * second_partial(min(i, j), max(i, j), x_in, param,
                                                             first)
                         for j, dot in dots]
                out.append(sum(terms[1:], terms[0]) if terms else jnp.zeros_like(d))
            return computed, tuple(out)

        partials = partials_with_rule

    def jvp(primals, tangents):
        (x, param), (x_dot, param_dot) = primals, tangents
        # The value through `activation`, as in unary_activation.
        y = activation(x, param)
        # One barrier each: a barrier gives every output a tangent once one
        # input has one, and a zero tangent of a parameter that is not
        # differentiated times an infinite partial is NaN (celu's
        # d(x / alpha)/dalpha at x = -inf, in jax.hessian).
        (x,) = guard_inputs(x)
        (param,) = guard_inputs(param)
        param = cast(param, compute_dtype(x.dtype))
        wanted = tuple(i for i, dot in ((1, x_dot), (2, param_dot))
                       if not isinstance(dot, SymbolicZero))
        terms = [cast(dot, d.dtype) * d for dot, d in zip(
            (dot for dot in (x_dot, param_dot) if not isinstance(dot, SymbolicZero)),
            partials(x, separate(x), param, wanted), strict=True)]
        if not terms:
            return y, jnp.zeros_like(y)
        return y, cast(sum(terms[1:], terms[0]), x.dtype)

    activation.defjvp(jvp, symbolic_zeros=True)
    return kernel(activation, default_param=default_param, eager_chunk=eager_chunk)
