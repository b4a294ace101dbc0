"""jaxact: classic activation functions for JAX with accurate derivatives."""

from jaxact._src.elementwise import elu as elu
from jaxact._src.elementwise import generalized_logistic as generalized_logistic
from jaxact._src.elementwise import leaky_relu as leaky_relu
from jaxact._src.elementwise import log_sigmoid as log_sigmoid
from jaxact._src.elementwise import relu as relu
from jaxact._src.elementwise import sigmoid as sigmoid
from jaxact._src.elementwise import softplus as softplus
from jaxact._src.elementwise import tanh as tanh

# --- parametric activations and optimiser helpers (jaxact/_src/parametric.py, optim.py)
# PARAMETRIC-IMPORTS
from jaxact import diagnostics as diagnostics

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
    # PARAMETRIC-NAMES
]
