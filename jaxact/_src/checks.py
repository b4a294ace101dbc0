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


def as_float_array(fn_name: str, x: ArrayLike, arg_name: str = "x") -> jax.Array:
    """Returns ``x`` as a floating-point array.

    Integer and bool inputs promote to the default float dtype, as ``jnp.tanh``
    does; complex inputs are rejected because none of the activations has a
    complex definition that users would agree on.
    """
    _check_arraylike(fn_name, arg_name, x)
    dtype = jnp.result_type(x)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(f"jaxact.{fn_name}: {arg_name} must be real, got dtype {dtype}")
    if not jnp.issubdtype(dtype, jnp.floating):
        return jnp.asarray(x, dtype=default_float_dtype())
    return jnp.asarray(x)


def as_real_array(fn_name: str, x: ArrayLike, arg_name: str = "x") -> jax.Array:
    """Returns ``x`` as an array of its own real dtype (integers are kept)."""
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
    return jnp.asarray(value).astype(dtype)
