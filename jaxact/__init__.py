"""jaxact: activation functions for JAX with accurate derivatives.

Each public name is defined in the module of ``jaxact/_src`` named for its
family: ``logistic`` (sigmoid, softplus, log_sigmoid, generalized_logistic,
silu/swish, log1mexp), ``hyperbolic`` (tanh, mish), ``algebraic`` (soft_sign,
squareplus), ``gaussian`` (gelu), ``rectifiers`` (relu, leaky_relu, elu,
relu6, selu, celu), ``piecewise`` (hard_sigmoid, hard_silu/hard_swish,
hard_tanh, sparse_plus, sparse_sigmoid), ``gated`` (glu),
``parametric`` (prelu, maxout and their layers), ``optim`` (optimiser
helpers) and ``diagnostics``. ``jaxact.nn`` is the whole ``jax.nn``
namespace with these functions in it, and ``jaxact.nnx`` (with flax) has
the layers as ``nnx.Module``.
"""

from jaxact import diagnostics as diagnostics
from jaxact import nn as nn
from jaxact._src.algebraic import soft_sign as soft_sign
from jaxact._src.algebraic import squareplus as squareplus
from jaxact._src.gaussian import gelu as gelu
from jaxact._src.hyperbolic import mish as mish
from jaxact._src.hyperbolic import tanh as tanh
from jaxact._src.logistic import generalized_logistic as generalized_logistic
from jaxact._src.logistic import log1mexp as log1mexp
from jaxact._src.logistic import log_sigmoid as log_sigmoid
from jaxact._src.logistic import sigmoid as sigmoid
from jaxact._src.logistic import silu as silu
from jaxact._src.logistic import softplus as softplus
from jaxact._src.logistic import swish as swish
from jaxact._src.optim import momentum_sgd as momentum_sgd
from jaxact._src.optim import weight_decay_mask as weight_decay_mask
from jaxact._src.parametric import Maxout as Maxout
from jaxact._src.parametric import PReLU as PReLU
from jaxact._src.parametric import maxout as maxout
from jaxact._src.parametric import prelu as prelu
from jaxact._src.rectifiers import elu as elu
from jaxact._src.rectifiers import leaky_relu as leaky_relu
from jaxact._src.rectifiers import relu as relu

# isort: split
# piecewise and ELU-family activations, glu
from jaxact._src.gated import glu as glu
from jaxact._src.piecewise import hard_sigmoid as hard_sigmoid
from jaxact._src.piecewise import hard_silu as hard_silu
from jaxact._src.piecewise import hard_swish as hard_swish
from jaxact._src.piecewise import hard_tanh as hard_tanh
from jaxact._src.piecewise import sparse_plus as sparse_plus
from jaxact._src.piecewise import sparse_sigmoid as sparse_sigmoid
from jaxact._src.rectifiers import celu as celu
from jaxact._src.rectifiers import relu6 as relu6
from jaxact._src.rectifiers import selu as selu

__version__ = "0.1.0"

__all__ = [
    "diagnostics",
    "nn",
    "elu",
    "generalized_logistic",
    "leaky_relu",
    "log_sigmoid",
    "relu",
    "sigmoid",
    "softplus",
    "tanh",
    "Maxout",
    "PReLU",
    "maxout",
    "momentum_sgd",
    "prelu",
    "weight_decay_mask",
    # smooth modern activations
    "log1mexp",
    "mish",
    "silu",
    "soft_sign",
    "squareplus",
    "swish",
    # Gaussian family
    "gelu",
    # piecewise and ELU-family activations, glu
    "celu",
    "glu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "relu6",
    "selu",
    "sparse_plus",
    "sparse_sigmoid",
]
