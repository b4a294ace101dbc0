"""jaxact: activation functions for JAX with accurate derivatives.

Each public name is defined in the module of ``jaxact/_src`` named for its
family: ``logistic`` (sigmoid, softplus, log_sigmoid, generalized_logistic,
silu/swish, log1mexp), ``hyperbolic`` (tanh, mish), ``algebraic`` (soft_sign,
squareplus), ``gaussian`` (gelu), ``rectifiers`` (relu, leaky_relu, elu),
``parametric`` (prelu, maxout and their layers), ``optim`` (optimiser
helpers) and ``diagnostics``.
"""

from jaxact import diagnostics as diagnostics
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

__version__ = "0.1.0"

__all__ = [
    "diagnostics",
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
    # smooth modern activations (issue 10)
    "log1mexp",
    "mish",
    "silu",
    "soft_sign",
    "squareplus",
    "swish",
    # Gaussian family (issue 10)
    "gelu",
]
