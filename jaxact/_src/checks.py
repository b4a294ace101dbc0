"""Input conversion and validation shared by every public function.

Each public function converts its arguments here first, so that a bad argument
fails with an error naming the function and the argument rather than deep
inside a trace.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact._src.jax_internals import with_weak_type

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
    # the general path below costs more than the activation itself on a
    # small array (tens of microseconds).
    if type(x) in _ARRAY_CLASSES and x.dtype in _FLOAT_DTYPES:
        return x
    if isinstance(x, jax.Array):
        _ARRAY_CLASSES.add(type(x))
    _check_arraylike(fn_name, arg_name, x)
    dtype = jnp.result_type(x)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(f"jaxact.{fn_name}: {arg_name} must be real, got dtype {dtype}")
    if not jnp.issubdtype(dtype, jnp.floating):
        converted = jnp.asarray(x, dtype=float_dtype_of(dtype))
        return with_weak_type(converted, is_weakly_typed(x))
    return jnp.asarray(x)


def weak_as_inputs(result: jax.Array, *inputs: jax.Array) -> jax.Array:
    """``result``, weakly typed exactly when every input is, as in jax.numpy.

    The activations compute with strongly typed constants, which would make
    ``jaxact.sigmoid(0.5) * bfloat16_array`` float32 where ``jax.nn.sigmoid``
    gives bfloat16.
    """
    return with_weak_type(result, all(is_weakly_typed(value) for value in inputs))


def as_real_array(fn_name: str, x: ArrayLike, arg_name: str = "x") -> jax.Array:
    """Returns ``x`` as an array of its own real dtype (integers are kept)."""
    if type(x) in _ARRAY_CLASSES and x.dtype in _FLOAT_DTYPES:
        return x
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
) -> jax.Array:
    """Converts a scalar or array parameter such as ``alpha`` to ``dtype``.

    Concrete values are checked against ``minimum``; traced values cannot be
    checked without a host round trip, so they are passed through as they are.
    """
    _check_arraylike(fn_name, arg_name, value)
    value_dtype = jnp.result_type(value)
    if jnp.issubdtype(value_dtype, jnp.complexfloating):
        raise TypeError(f"jaxact.{fn_name}: {arg_name} must be real, got dtype {value_dtype}")
    if is_concrete(value):
        concrete = np.asarray(value, dtype=np.float64)
        bad = ~(concrete >= minimum) if inclusive else ~(concrete > minimum)
        # NaN parameters are let through: NaN in gives NaN out.
        bad &= ~np.isnan(concrete)
        if np.any(bad):
            relation = ">=" if inclusive else ">"
            shown = concrete[bad].ravel()[0]
            raise ValueError(
                f"jaxact.{fn_name}: {arg_name} must be {relation} {minimum}, got {shown}"
            )
    # A weakly typed value (a Python number) stays weakly typed, so that the
    # result can be too (see weak_as_inputs).
    return with_weak_type(jnp.asarray(value).astype(dtype), is_weakly_typed(value))


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
) -> jax.Array | float:
    """as_parameter, for a parameter that a jaxact kernel casts to ``dtype`` itself.

    The common call, a Python float of ordinary size such as 0.01, is
    checked and returned as it is: converting it to an array here would cost
    more than a small activation does (tens of microseconds).
    """
    if type(value) is float and (
        value == 0.0 or _ORDINARY_MAGNITUDES[0] <= abs(value) <= _ORDINARY_MAGNITUDES[1]
    ):
        if value >= minimum if inclusive else value > minimum:
            return value
    return as_parameter(fn_name, arg_name, value, dtype, minimum=minimum, inclusive=inclusive)
