"""Diagnostics for training with classic activations: dead and saturated units,
per-layer activation statistics and gradient norms.

Units are the last axis (channels-last); every function is jit-, vmap- and
sharding-friendly and can be called inside a jitted training step.
"""

from jaxact._src.diagnostics import activation_stats as activation_stats
from jaxact._src.diagnostics import active_units as active_units
from jaxact._src.diagnostics import dead_fraction as dead_fraction
from jaxact._src.diagnostics import gradient_norms as gradient_norms
from jaxact._src.diagnostics import saturated_fraction as saturated_fraction
from jaxact._src.diagnostics import update_active_units as update_active_units

__all__ = [
    "activation_stats",
    "active_units",
    "dead_fraction",
    "gradient_norms",
    "saturated_fraction",
    "update_active_units",
]
