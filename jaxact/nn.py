"""The ``jax.nn`` namespace with jaxact's activations: ``from jaxact import nn``.

Every public name of the installed ``jax.nn`` is here. Where jaxact has a
function of that name (the activations imported below), the name is
jaxact's, with its derivative rules; every other name is ``jax.nn``'s own
object (``softmax``, ``log_softmax``, ``logsumexp``, ``one_hot``,
``standardize``, ``initializers``, ``dot_product_attention``, ...), copied
from ``jax.nn`` when this module is imported, so the namespace follows the
JAX version installed. jaxact's names that ``jax.nn`` does not have
(``prelu``, ``maxout``, ``generalized_logistic``, ...) are in ``jaxact``
itself.

Example:
    >>> import jax
    >>> import jax.numpy as jnp
    >>> import jaxact
    >>> from jaxact import nn
    >>> nn.sigmoid is jaxact.sigmoid, nn.softmax is jax.nn.softmax
    (True, True)
    >>> nn.softmax(nn.log_sigmoid(jnp.array([0.0, 0.0])))
    Array([0.5, 0.5], dtype=float32)
    >>> nn.initializers.glorot_normal()(jax.random.key(0), (2, 3)).shape
    (2, 3)
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

import jax.nn as _jax_nn

from jaxact._src.algebraic import soft_sign as soft_sign
from jaxact._src.algebraic import squareplus as squareplus
from jaxact._src.gated import glu as glu
from jaxact._src.gaussian import gelu as gelu
from jaxact._src.hyperbolic import mish as mish
from jaxact._src.hyperbolic import tanh as tanh
from jaxact._src.logistic import log1mexp as log1mexp
from jaxact._src.logistic import log_sigmoid as log_sigmoid
from jaxact._src.logistic import sigmoid as sigmoid
from jaxact._src.logistic import silu as silu
from jaxact._src.logistic import softplus as softplus
from jaxact._src.logistic import swish as swish
from jaxact._src.piecewise import hard_sigmoid as hard_sigmoid
from jaxact._src.piecewise import hard_silu as hard_silu
from jaxact._src.piecewise import hard_swish as hard_swish
from jaxact._src.piecewise import hard_tanh as hard_tanh
from jaxact._src.piecewise import sparse_plus as sparse_plus
from jaxact._src.piecewise import sparse_sigmoid as sparse_sigmoid
from jaxact._src.rectifiers import celu as celu
from jaxact._src.rectifiers import elu as elu
from jaxact._src.rectifiers import leaky_relu as leaky_relu
from jaxact._src.rectifiers import relu as relu
from jaxact._src.rectifiers import relu6 as relu6
from jaxact._src.rectifiers import selu as selu

if _TYPE_CHECKING:
    # What the loop below copies, spelled out for type checkers, which do not
    # run it: jax.nn's names that jaxact has no function for.
    from jax.nn import dot_product_attention as dot_product_attention
    from jax.nn import get_scaled_dot_general_config as get_scaled_dot_general_config
    from jax.nn import identity as identity
    from jax.nn import initializers as initializers
    from jax.nn import log_softmax as log_softmax
    from jax.nn import logmeanexp as logmeanexp
    from jax.nn import logsumexp as logsumexp
    from jax.nn import one_hot as one_hot
    from jax.nn import scaled_dot_general as scaled_dot_general
    from jax.nn import scaled_matmul as scaled_matmul
    from jax.nn import softmax as softmax
    from jax.nn import standardize as standardize

# The namespace is the installed jax.nn's, name for name: jax.nn's own object
# for each name not imported above, and none of the names above that this
# JAX's jax.nn lacks.
__all__ = sorted(name for name in dir(_jax_nn) if not name.startswith("_"))
for _name in __all__:
    if _name not in globals():
        globals()[_name] = getattr(_jax_nn, _name)
for _name in [name for name in globals() if not name.startswith("_")]:
    if _name not in __all__:
        del globals()[_name]
del _name


def __dir__() -> list[str]:
    return list(__all__)
