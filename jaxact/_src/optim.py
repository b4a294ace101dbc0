"""Optimiser helpers for the parametric activations, in optax's terms.

He et al. (2015) train PReLU slopes with the same momentum SGD as the weights
but without weight decay. Both pieces are expressed with stock optax
transformations: a mask chosen by where a leaf sits in the tree, and
``optax.sgd`` with momentum.
"""

from __future__ import annotations

import jax
import optax

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
        learning_rate: ε, a constant step size.
        momentum: μ, in [0, 1); He et al. use 0.9.
        weight_decay: λ, the L2 coefficient for the non-slope parameters
            (He et al. use 5e-4); 0 disables it.

    Returns:
        An ``optax.GradientTransformation``.

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
    return optax.chain(
        optax.add_decayed_weights(weight_decay, mask=weight_decay_mask),
        optax.sgd(learning_rate, momentum=momentum),
    )
