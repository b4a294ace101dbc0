"""Input conversion and validation shared by every public function.

Each public function converts its arguments here first, so that a bad argument
fails with an error naming the function and the argument rather than deep
inside a trace.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact._src.jax_internals import convert

# Types a user may pass where an array is expected. Lists are rejected on
# purpose (as jax.numpy functions do): converting them silently hides shape bugs.
_ARRAY_TYPES = (jax.Array, np.ndarray, np.generic, numbers.Number)


def _check_arraylike(fn_name: str, arg_name: str, value) -> None:
    if isinstance(value, (str, bytes)) or not (
        isinstance(value, _ARRAY_TYPES) or hasattr(value, "__jax_array__")
    ):
        raise TypeError(
            f"jaxact.{fn_name}: {arg_name} must be an array or a number, "
            f"got {type(value).__name__}"
        )


def default_float_dtype() -> np.dtype:
    """float64 when jax_enable_x64 is on, else float32."""
    return jnp.result_type(float)


def is_weakly_typed(value: ArrayLike) -> bool:
    """True for Python scalars and arrays computed from them alone (see jnp's type promotion)."""
    # Reading the attribute of an array (or tracer) costs a fifth of
    # jax.typeof, which matters for eager calls on small arrays.
    kind = type(value)
    if kind in _ARRAY_CLASSES:
        return value.weak_type  # type: ignore[union-attr]
    if kind is float:
        return True
    return jax.typeof(value).weak_type


# The floating dtypes an array may have to pass as_float_array unchanged.
_FLOAT_DTYPES = frozenset(
    jnp.dtype(d) for d in (jnp.bfloat16, jnp.float16, jnp.float32, jnp.float64)
)
# Types seen to be jax.Array (array and tracer classes): checking the type
# against this set costs a tenth of isinstance(x, jax.Array), an ABC check.
_ARRAY_CLASSES: set[type] = set()


def float_dtype_of(dtype) -> np.dtype:
    """The floating dtype ``jnp.tanh`` computes an input of ``dtype`` in.

    Bool and integers of up to 32 bits become float32, 64-bit integers the
    default float (float64 with jax_enable_x64, where they exist); floating
    dtypes are kept.
    """
    dtype = jnp.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.floating):
        return dtype
    return default_float_dtype() if dtype.itemsize == 8 else jnp.dtype(jnp.float32)


def as_float_array(fn_name: str, x: ArrayLike, arg_name: str = "x") -> jax.Array:
    """Returns ``x`` as a floating-point array, converted as ``jnp.tanh`` converts it.

    Integer and bool inputs promote as float_dtype_of says; a weakly typed
    ``x`` (a Python scalar) stays weakly typed. Complex inputs are rejected
    because none of the activations has a complex definition that users
    would agree on.
    """
    # The common case, a floating jax.Array, is returned as it is at once:
    # the general path below (one eager JAX operation or more) costs more
    # than the activation itself on a small array.
    if type(x) in _ARRAY_CLASSES and x.dtype in _FLOAT_DTYPES:  # type: ignore[union-attr]
        return x  # type: ignore[return-value]
    if isinstance(x, jax.Array):
        _ARRAY_CLASSES.add(type(x))
    _check_arraylike(fn_name, arg_name, x)
    dtype = jnp.result_type(x)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(f"jaxact.{fn_name}: {arg_name} must be real, got dtype {dtype}")
    if not jnp.issubdtype(dtype, jnp.floating):
        return convert(x, float_dtype_of(dtype), is_weakly_typed(x))
    return jnp.asarray(x)


def promoted(fn_name: str, x: jax.Array, arg_name: str, value) -> jax.Array:
    """x converted to the dtype that jax.numpy promotes x and the parameter ``value`` to.

    The result dtype of jax.nn's parametric functions (``celu(x_bfloat16,
    jnp.float32(2))`` is float32, and float64 under jax_enable_x64 with a
    float64 alpha); weakly typed when both are. A Python number is weakly
    typed and never widens x, so the common call returns at once.
    """
    if type(value) is float or type(value) is int:
        return x
    _check_arraylike(fn_name, arg_name, value)
    try:
        dtype = jnp.result_type(x, value)
    except jax.dtypes.TypePromotionError as error:  # float8 with float32, as in jax.nn
        raise type(error)(f"jaxact.{fn_name}: {arg_name} does not promote with x: {error}") \
            from None
    if dtype == x.dtype or not jnp.issubdtype(dtype, jnp.floating):
        return x  # a complex parameter is rejected by its own check
    return convert(x, dtype, is_weakly_typed(x) and is_weakly_typed(value))


def as_real_array(fn_name: str, x: ArrayLike, arg_name: str = "x") -> jax.Array:
    """Returns ``x`` as an array of its own real dtype (integers are kept)."""
    if type(x) in _ARRAY_CLASSES and x.dtype in _FLOAT_DTYPES:  # type: ignore[union-attr]
        return x  # type: ignore[return-value]
    _check_arraylike(fn_name, arg_name, x)
    dtype = jnp.result_type(x)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(f"jaxact.{fn_name}: {arg_name} must be real, got dtype {dtype}")
    return jnp.asarray(x)


def is_concrete(value) -> bool:
    """True when ``value`` holds known numbers (not a tracer under jit or grad)."""
    return not isinstance(value, jax.core.Tracer)


def as_parameter(
    fn_name: str,
    arg_name: str,
    value: ArrayLike,
    dtype,
    *,
    minimum: float,
    inclusive: bool,
    finite: bool = False,
    x_shape: tuple[int, ...] | None = None,
) -> jax.Array:
    """Converts a scalar or array parameter such as ``alpha`` to ``dtype``, checked.

    Every check names the function and the argument:

    * with ``x_shape``, the parameter must broadcast against x, and must not
      be empty unless x is (an empty parameter would silently empty the
      result);
    * a concrete value is checked after the cast to ``dtype``, since that is
      what the function computes with: it must be >= ``minimum`` (or >, if
      not ``inclusive``), and finite if ``finite``. So 1e-50 as a float32
      alpha that must be > 0 is an error (it is 0 there, and so is 1e-40,
      subnormal, which XLA flushes to 0), and so is 1e300 where alpha must
      be finite (it is inf). NaN passes: NaN in gives NaN out.

    Traced values cannot be checked without a host round trip, so only their
    shapes are.
    """
    _check_arraylike(fn_name, arg_name, value)
    value_dtype = jnp.result_type(value)
    if jnp.issubdtype(value_dtype, jnp.complexfloating):
        raise TypeError(f"jaxact.{fn_name}: {arg_name} must be real, got dtype {value_dtype}")
    # Overflow and underflow in the cast are checked below, with a clearer message.
    with np.errstate(over="ignore", under="ignore"):
        array = jnp.asarray(value)
    if x_shape is not None:
        _check_parameter_shape(fn_name, arg_name, array.shape, tuple(x_shape))
    # A weakly typed value (a Python number) stays weakly typed, so that the
    # result can be too (see jvp.kernel's weak_as_inputs).
    converted = convert(array, dtype, is_weakly_typed(value))
    if is_concrete(value):
        # From the value as given: a Python float such as 1e-50 is already 0
        # in jnp.asarray's float32.
        original = np.asarray(value, dtype=np.float64)
        # Cast on the host: inside a trace even a constant's cast is a tracer.
        with np.errstate(over="ignore", under="ignore"):
            used = original.astype(jnp.dtype(dtype)).astype(np.float64)
        # XLA flushes subnormals to 0 in arithmetic (CPU and GPU), so they are
        # 0 as far as the function is concerned.
        used = np.where(np.abs(used) < float(jnp.finfo(dtype).tiny), np.copysign(0.0, used), used)
        bad = ~(used >= minimum) if inclusive else ~(used > minimum)
        if finite:
            bad |= np.isinf(used)
        bad &= ~np.isnan(used)
        if np.any(bad):
            first = np.flatnonzero(bad)[0]
            shown, shown_used = original.ravel()[first], used.ravel()[first]
            requirement = f"{'>=' if inclusive else '>'} {minimum}"
            if finite:
                requirement += " and finite"
            message = f"jaxact.{fn_name}: {arg_name} must be {requirement}, got {shown}"
            if shown_used != shown:
                message += f", which is {shown_used} in {jnp.dtype(dtype)}, the dtype it is used in"
            raise ValueError(message)
    return converted


def _check_parameter_shape(
    fn_name: str, arg_name: str, shape: tuple[int, ...], x_shape: tuple[int, ...]
) -> None:
    try:
        np.broadcast_shapes(shape, x_shape)
    except ValueError:
        raise ValueError(
            f"jaxact.{fn_name}: {arg_name} of shape {shape} does not broadcast "
            f"against x of shape {x_shape}"
        ) from None
    if math.prod(shape) == 0 and math.prod(x_shape) != 0:
        raise ValueError(
            f"jaxact.{fn_name}: {arg_name} is empty (shape {shape}), but x (shape "
            f"{x_shape}) is not"
        )


# Python floats that as_kernel_parameter passes on as they are: every float32
# and float64 cast of them is finite, normal and of the same sign.
_ORDINARY_MAGNITUDES = (1e-30, 1e30)


def as_kernel_parameter(
    fn_name: str,
    arg_name: str,
    value: ArrayLike,
    dtype,
    *,
    minimum: float,
    inclusive: bool,
    finite: bool = False,
    x_shape=None,
) -> jax.Array | float:
    """as_parameter, for a parameter that a jaxact kernel casts to ``dtype`` itself.

    The common call, a Python float of ordinary size such as 0.01, is
    checked and returned as it is: converting it to an array here (an eager
    JAX operation) would cost more than a small activation does. Such a float is
    finite, normal in float32 and float64, and broadcasts against any x, so
    it passes every check of as_parameter.
    """
    if type(value) is int and abs(value) <= 2**24:
        # A small Python int (squareplus's default b = 4) is exactly this float,
        # weakly typed as the int is.
        value = float(value)
    if type(value) is float and (
        value == 0.0 or _ORDINARY_MAGNITUDES[0] <= abs(value) <= _ORDINARY_MAGNITUDES[1]
    ):
        if value >= minimum if inclusive else value > minimum:
            return value
    return as_parameter(
        fn_name, arg_name, value, dtype,
        minimum=minimum, inclusive=inclusive, finite=finite, x_shape=x_shape,
    )
