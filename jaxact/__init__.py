"""jaxact: classic activation functions for JAX with accurate derivatives."""

from jaxact import diagnostics as diagnostics
from jaxact._src.elementwise import elu as elu
from jaxact._src.elementwise import generalized_logistic as generalized_logistic
from jaxact._src.elementwise import leaky_relu as leaky_relu
from jaxact._src.elementwise import log_sigmoid as log_sigmoid
from jaxact._src.elementwise import relu as relu
from jaxact._src.elementwise import sigmoid as sigmoid
from jaxact._src.elementwise import softplus as softplus
from jaxact._src.elementwise import tanh as tanh

# --- parametric activations and optimiser helpers (jaxact/_src/parametric.py, optim.py)
from jaxact._src.optim import momentum_sgd as momentum_sgd
from jaxact._src.optim import weight_decay_mask as weight_decay_mask
from jaxact._src.parametric import Maxout as Maxout
from jaxact._src.parametric import PReLU as PReLU
from jaxact._src.parametric import maxout as maxout
from jaxact._src.parametric import prelu as prelu

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
]
