"""Optimiser helpers for the parametric activations, in optax's terms.

He et al. (2015) train PReLU slopes with the same momentum SGD as the weights
but without weight decay. Both pieces are expressed with stock optax
transformations: a mask chosen by where a leaf sits in the tree, and
``optax.sgd`` with momentum.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import optax

from jaxact._src.checks import as_real_array, is_concrete
from jaxact._src.parametric import PReLU


def _is_prelu(node) -> bool:
    return isinstance(node, PReLU)


def weight_decay_mask(params):
    """A pytree of bools: False exactly on the slopes of ``PReLU`` layers.

    The slopes are found by their place in the tree, as the ``negative_slope``
    field of a :class:`jaxact.PReLU` node, never by shape: a channel-wise slope
    is 1-D like a bias, and a shared slope is a scalar like a temperature.
    Every other leaf (weights, biases, Maxout parameters) gets True.

    Use it wherever optax takes a mask, as a tree or as the function itself
    (optax calls it on the parameters and on the updates, which share their
    structure)::

        optax.adamw(learning_rate, weight_decay=1e-4, mask=jaxact.weight_decay_mask)
        optax.masked(optax.add_decayed_weights(5e-4), jaxact.weight_decay_mask)

    For a flax.nnx model use ``jaxact.nnx.weight_decay_mask_fn(model)``: the
    ``nnx.State`` that ``nnx.Optimizer`` hands optax no longer says which
    module a leaf came from, so the slopes are found in the model instead.

    Args:
        params: any pytree of parameters, e.g. a dict or list of layers, or an
            equinox Module (filter it to its arrays first, as equinox does for optax).

    Returns:
        A pytree of Python bools with the structure of ``params``.

    Example:
        >>> import jax
        >>> import jaxact
        >>> params = {"hidden": jaxact.Maxout.init(jax.random.key(0), 4, 2, 3),
        ...           "act": jaxact.PReLU.init(2)}
        >>> mask = jaxact.weight_decay_mask(params)
        >>> mask["act"].negative_slope, mask["hidden"].weight, mask["hidden"].bias
        (False, True, True)
    """

    def mark(node):
        if _is_prelu(node):
            return PReLU(negative_slope=jax.tree.map(lambda _: False, node.negative_slope))
        return True

    return jax.tree.map(mark, params, is_leaf=_is_prelu)


def _check_hyperparameter(arg_name: str, value, *, below_one: bool = False):
    """Checks a concrete ``momentum_sgd`` setting: finite and >= 0 (< 1 with ``below_one``).

    A traced value (a hyperparameter swept under vmap, say) cannot be checked
    without a host round trip and is passed through as it is.
    """
    array = as_real_array("momentum_sgd", value, arg_name)
    if array.ndim != 0:
        raise ValueError(
            f"jaxact.momentum_sgd: {arg_name} must be a scalar, got shape {array.shape}"
        )
    if not is_concrete(value):
        return value
    number = float(np.asarray(value, dtype=np.float64))
    if not 0.0 <= number < (1.0 if below_one else math.inf):
        interval = "in [0, 1)" if below_one else "finite and >= 0"
        raise ValueError(f"jaxact.momentum_sgd: {arg_name} must be {interval}, got {number}")
    return value


def momentum_sgd(
    learning_rate: float, momentum: float = 0.9, *, weight_decay: float = 0.0
) -> optax.GradientTransformation:
    r"""Momentum SGD as He et al. train PReLU: the source's update, in optax.

    The source updates a slope by

    .. math::
        \Delta a := \mu \Delta a + \epsilon \frac{\partial E}{\partial a},
        \qquad a := a - \Delta a

    (the subtraction is implied: E is the loss to be minimised). This is
    ``optax.sgd(learning_rate=ε, momentum=μ)``: optax keeps the trace
    :math:`t := \mu t + g` of raw gradients and returns the update
    :math:`-\epsilon t`, and by induction :math:`\epsilon t = \Delta a` at every
    step, so ``optax.apply_updates`` adds :math:`-\Delta a`. The sign is
    optax's (updates are added); the scaling is the same because ε is
    constant. With a learning-rate schedule the two differ: optax scales the
    whole trace by the current rate, the source scales each gradient by the
    rate of its own step.

    ``weight_decay`` adds :math:`\lambda w` to the gradient of every parameter
    except the PReLU slopes (:func:`weight_decay_mask`) before the momentum,
    as in the paper's training set-up, where the slopes get no decay.

    Args:
        learning_rate: ε >= 0 and finite, a constant step size (an optax schedule, a
            callable, is passed to optax unchecked).
        momentum: μ, in [0, 1); He et al. use 0.9.
        weight_decay: λ >= 0 and finite, the L2 coefficient for the non-slope parameters
            (He et al. use 5e-4); 0 disables it.

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        TypeError: if a setting is not a real number or array.
        ValueError: if a concrete setting is out of its range (NaN included)
            or not a scalar; traced settings are not checked.

    Example:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import jaxact
        >>> params = {"act": jaxact.PReLU.init()}
        >>> optimizer = jaxact.momentum_sgd(0.1, momentum=0.9)
        >>> state = optimizer.init(params)
        >>> grads = {"act": jaxact.PReLU(jnp.array(1.0))}
        >>> updates, state = optimizer.update(grads, state, params)
        >>> optax.apply_updates(params, updates)["act"].negative_slope  # 0.25 - 0.1 * 1
        Array(0.15, dtype=float32)
    """
    if not callable(learning_rate):
        _check_hyperparameter("learning_rate", learning_rate)
    _check_hyperparameter("momentum", momentum, below_one=True)
    _check_hyperparameter("weight_decay", weight_decay)
    return optax.chain(
        optax.add_decayed_weights(weight_decay, mask=weight_decay_mask),
        optax.sgd(learning_rate, momentum=momentum),
    )
