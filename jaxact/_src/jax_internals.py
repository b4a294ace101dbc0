"""The private JAX names jaxact depends on, looked up in one place.

JAX has no public way to do the first and the last of these, and only a
slower one for the second:

* ``eager_constant_folding``: the switch that ``jax.ensure_compile_time_eval``
  turns on. jaxact turns it off for the duration of each call (see
  :func:`jaxact._src.jvp.kernel`); without that, XLA folds the
  error-free arithmetic on constants and ``sigmoid(0.6)`` comes out 0.667.
* ``disable_jit``: the switch behind ``jax.disable_jit()``, read (not set)
  on every eager call: its ``value`` is read directly, without the attribute
  lookup of the public ``jax.config.jax_disable_jit``.
* ``_convert_element_type(..., weak_type=True)``: the conversion jax.numpy
  uses to give a result the weak type of its inputs, so that
  ``jaxact.sigmoid(0.5) * bfloat16_array`` stays bfloat16 as with ``jax.nn``.

All are looked up when jaxact is imported. A JAX that lacks one fails
there, with an ImportError that names the missing name and the JAX versions
jaxact is tested with, rather than computing different results silently.
"""

from __future__ import annotations

import inspect
import pathlib
import re

import jax
import jax.numpy

__all__ = ["SUPPORTED_JAX", "convert", "disable_jit", "eager_constant_folding", "with_weak_type"]


def _supported_jax() -> str:
    """The JAX range of jaxact/requirements.txt (also pyproject's dependency list)."""
    requirements = pathlib.Path(__file__).parents[1] / "requirements.txt"
    match = re.search(r"^jax([<>=!~][^\s#]*)", requirements.read_text(), re.MULTILINE)
    if match is None:
        raise ImportError(f"jaxact: {requirements} states no jax version range")
    return match.group(1)


# The versions whose private names above were checked.
SUPPORTED_JAX = _supported_jax()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _in_range(version: str, specifiers: str) -> bool:
    """``version`` within ``specifiers`` (">=a,<b" with ">=", ">", "<=", "<", "==")."""
    have = _version(version)
    tests = {">=": have.__ge__, ">": have.__gt__, "<=": have.__le__, "<": have.__lt__,
             "==": have.__eq__}
    for specifier in specifiers.split(","):
        operator, bound = re.fullmatch(r"\s*([<>=]=?)\s*(\S+)\s*", specifier).groups()  # type: ignore[union-attr]
        if not tests[operator](_version(bound)):
            return False
    return True


def unsupported_jax(name: str, reason: str) -> ImportError:
    return ImportError(
        f"jaxact: this JAX ({jax.__version__}) {reason} {name}, a private name "
        f"jaxact needs; jaxact supports jax{SUPPORTED_JAX} and jaxlib{SUPPORTED_JAX}."
    )


# A JAX outside the range may rename or change the private names below
# without removing them, so the range itself is enforced, not only their presence.
if not _in_range(jax.__version__, SUPPORTED_JAX):
    raise ImportError(
        f"jaxact: this JAX ({jax.__version__}) is outside the range jaxact supports, "
        f"jax{SUPPORTED_JAX} and jaxlib{SUPPORTED_JAX}."
    )


try:
    from jax._src.config import eager_constant_folding
except ImportError as error:
    raise unsupported_jax("jax._src.config.eager_constant_folding", "has no") from error

try:
    from jax._src.config import disable_jit
except ImportError as error:
    raise unsupported_jax("jax._src.config.disable_jit", "has no") from error

if not (hasattr(eager_constant_folding, "value") and hasattr(disable_jit, "value")):
    raise unsupported_jax(
        "jax._src.config's eager_constant_folding and disable_jit", "has no switch value in"
    )

try:
    from jax._src.lax.lax import _convert_element_type
except ImportError as error:
    raise unsupported_jax("jax._src.lax.lax._convert_element_type", "has no") from error

if "weak_type" not in inspect.signature(_convert_element_type).parameters:
    raise unsupported_jax(
        "jax._src.lax.lax._convert_element_type", "has no weak_type argument in"
    )


def convert(value, dtype, weak_type: bool) -> jax.Array:
    """``value`` as an array of ``dtype``, weakly typed or not as ``weak_type`` says.

    One operation at most (none if ``value`` is such an array already): each
    eager operation costs a dispatch.
    """
    aval = jax.typeof(value)
    if isinstance(value, jax.Array) and aval.dtype == dtype and aval.weak_type == weak_type:
        return value
    return _convert_element_type(value, jax.numpy.dtype(dtype), weak_type=weak_type)


def with_weak_type(value: jax.Array, weak_type: bool) -> jax.Array:
    """``value`` with its dtype, weakly typed or not as ``weak_type`` says."""
    return convert(value, value.dtype, weak_type)
