"""flax.nnx layers for jaxact's PReLU and Maxout, and their weight-decay mask function.

Import this module explicitly (``import jaxact.nnx``); it needs flax
(``pip install jaxact[flax]``), which ``import jaxact`` does not. Each layer
is a thin ``nnx.Module`` whose learned arrays are ``nnx.Param`` variables, so
``nnx.grad``, ``nnx.Optimizer(model, tx, wrt=nnx.Param)`` and ``nnx.state``
see them as any flax layer's; the arithmetic is :func:`jaxact.prelu` and
:class:`jaxact.Maxout`, with their derivative rules. ``to_pytree`` and
``from_pytree`` convert to and from the framework-free pytrees
:class:`jaxact.PReLU` and :class:`jaxact.Maxout`.

Importing this module also registers those two pytrees with
``flax.serialization`` (``to_state_dict``, ``to_bytes`` and their inverses).

Example:
    >>> import jax.numpy as jnp
    >>> import optax
    >>> from flax import nnx
    >>> import jaxact.nnx
    >>> class Block(nnx.Module):
    ...     def __init__(self, rngs):
    ...         self.hidden = jaxact.nnx.Maxout(4, 3, num_pieces=2, rngs=rngs)
    ...         self.act = jaxact.nnx.PReLU(3)
    ...     def __call__(self, x):
    ...         return self.act(self.hidden(x))
    >>> model = Block(nnx.Rngs(0))
    >>> tx = optax.adamw(1e-2, weight_decay=0.1, mask=jaxact.nnx.weight_decay_mask_fn(model))
    >>> optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    >>> model(jnp.ones((2, 4))).shape
    (2, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx, serialization
from jax.typing import ArrayLike, DTypeLike

from jaxact._src import parametric
from jaxact._src.checks import as_float_array

__all__ = ["Maxout", "PReLU", "weight_decay_mask_fn"]


class PReLU(nnx.Module):
    """PReLU with its slopes in an ``nnx.Param``: :func:`jaxact.prelu` as a flax.nnx layer.

    Args:
        num_channels: the number of channels for channel-wise slopes, or
            ``None`` for one slope shared by all channels.
        negative_slope_init: the initial slope; 0.25 is the value He et al.
            start from.
        channel_axis: the axis of the input that channel-wise slopes run
            along; -1 (channels last) by default.
        dtype: the floating dtype of the computation and of the output; the
            input is cast to it first. ``None`` (the default) keeps the
            input's floating dtype, as :func:`jaxact.prelu` does.
        param_dtype: floating dtype of the slopes.
        rngs: accepted for the signature of other nnx layers and unused (the
            slopes start at ``negative_slope_init``).

    Attributes:
        negative_slope: ``nnx.Param`` of shape ``()`` or ``(num_channels,)``.

    The slopes broadcast against the input as :func:`jaxact.prelu` documents,
    and its errors, values and derivatives are this layer's. He et al. give
    the slopes no weight decay: see :func:`weight_decay_mask_fn`.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact.nnx
        >>> jaxact.nnx.PReLU(3)(jnp.array([-4.0, 0.0, 4.0]))
        Array([-1.,  0.,  4.], dtype=float32)
    """

    def __init__(
        self,
        num_channels: int | None = None,
        *,
        negative_slope_init: float = 0.25,
        channel_axis: int = -1,
        dtype: DTypeLike | None = None,
        param_dtype: DTypeLike = jnp.float32,
        rngs: nnx.Rngs | None = None,
    ):
        del rngs
        layer = parametric.PReLU.init(
            num_channels, negative_slope_init=negative_slope_init, dtype=param_dtype
        )
        self.negative_slope = nnx.Param(layer.negative_slope)
        self.channel_axis = parametric._python_int("nnx.PReLU", "channel_axis", channel_axis)
        self.dtype = _computation_dtype("nnx.PReLU", dtype)
        self.param_dtype = layer.negative_slope.dtype

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = _as_input("nnx.PReLU", x, self.dtype)
        return parametric.prelu(x, self.negative_slope[...], channel_axis=self.channel_axis)

    def to_pytree(self) -> parametric.PReLU:
        """The slopes' current values as a :class:`jaxact.PReLU`."""
        return parametric.PReLU(negative_slope=self.negative_slope[...])

    @classmethod
    def from_pytree(
        cls, layer: parametric.PReLU, *, channel_axis: int = -1, dtype: DTypeLike | None = None
    ) -> PReLU:
        """A layer holding ``layer.negative_slope`` (any shape :func:`jaxact.prelu` takes).

        ``channel_axis`` and ``dtype`` are the constructor's; ``param_dtype``
        is the slopes' own dtype.
        """
        module = cls(channel_axis=channel_axis, dtype=dtype)
        slopes = jnp.asarray(layer.negative_slope)
        module.negative_slope, module.param_dtype = nnx.Param(slopes), slopes.dtype
        return module


class Maxout(nnx.Module):
    """Maxout with its weight and bias in ``nnx.Param``: :class:`jaxact.Maxout` as a flax.nnx layer.

    Args:
        in_features: size of the input's last axis.
        out_features: number of maxout units.
        num_pieces: pieces per unit (1 gives a Dense layer).
        dtype: the floating dtype of the computation and of the output; the
            input is cast to it first. ``None`` (the default) keeps the
            input's floating dtype, as :class:`jaxact.Maxout` does.
        param_dtype: floating dtype of the weight and bias.
        rngs: ``nnx.Rngs``; the weight is drawn from its ``params`` stream as
            :meth:`jaxact.Maxout.init` draws it.

    Attributes:
        weight: ``nnx.Param`` of shape ``(in_features, out_features * num_pieces)``,
            column ``i * num_pieces + j`` holding piece j of unit i.
        bias: ``nnx.Param`` of shape ``(out_features * num_pieces,)``.
        num_pieces: the static piece count.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> import jaxact.nnx
        >>> layer = jaxact.nnx.Maxout(8, 4, num_pieces=3, rngs=nnx.Rngs(0))
        >>> layer.weight.shape, layer(jnp.ones((2, 8))).shape
        ((8, 12), (2, 4))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_pieces: int,
        *,
        dtype: DTypeLike | None = None,
        param_dtype: DTypeLike = jnp.float32,
        rngs: nnx.Rngs,
    ):
        layer = parametric.Maxout.init(
            rngs.params(), in_features, out_features, num_pieces, dtype=param_dtype
        )
        self._set(layer)
        self.dtype = _computation_dtype("nnx.Maxout", dtype)

    def _set(self, layer: parametric.Maxout) -> None:
        weight = jnp.asarray(layer.weight)
        self.weight, self.param_dtype = nnx.Param(weight), weight.dtype
        self.bias = nnx.Param(jnp.asarray(layer.bias))
        self.num_pieces = parametric._count("nnx.Maxout", "num_pieces", layer.num_pieces)

    def __call__(self, x: ArrayLike) -> jax.Array:
        return self.to_pytree()(_as_input("nnx.Maxout", x, self.dtype))

    def to_pytree(self) -> parametric.Maxout:
        """The current weight and bias as a :class:`jaxact.Maxout`."""
        return parametric.Maxout(
            weight=self.weight[...], bias=self.bias[...], num_pieces=self.num_pieces
        )

    @classmethod
    def from_pytree(cls, layer: parametric.Maxout, *, dtype: DTypeLike | None = None) -> Maxout:
        """A layer holding ``layer``'s weight, bias and ``num_pieces``.

        ``dtype`` is the constructor's; ``param_dtype`` is the weight's own dtype.
        """
        # then replaced: nnx modules are built by __init__
        module = cls(1, 1, 1, dtype=dtype, rngs=nnx.Rngs(0))
        module._set(layer)
        return module


def _computation_dtype(fn_name: str, dtype: DTypeLike | None) -> jnp.dtype | None:
    return None if dtype is None else parametric._float_dtype(fn_name, dtype)


def _as_input(fn_name: str, x: ArrayLike, dtype: jnp.dtype | None) -> jax.Array:
    # Checked (and ints promoted) as jaxact checks any input, then cast to
    # the layer's computation dtype, as flax's promote_dtype does.
    x = as_float_array(fn_name, x)
    return x if dtype is None else x.astype(dtype)


def _key_name(entry):
    # nnx.State paths are dict keys; sequences and attributes may appear too.
    for attribute in ("key", "name", "idx"):
        if hasattr(entry, attribute):
            return getattr(entry, attribute)
    return entry


def weight_decay_mask_fn(model: nnx.Module) -> Callable[[Any], Any]:
    """An optax mask function for ``model``'s parameters: False exactly on PReLU slopes.

    The slopes are found by their place in ``model``: the ``negative_slope``
    of every :class:`PReLU` (and of flax's own ``nnx.PReLU``) among its
    submodules, never by shape. Every other leaf gets True, as
    :func:`jaxact.weight_decay_mask` does for pytrees.

    The result is a function of the parameter state (optax's ``mask_fn``, not
    a mask tree) that optax calls on the parameters and on the updates (both
    have the structure of ``nnx.state(model, nnx.Param)``)::

        tx = optax.adamw(1e-3, weight_decay=1e-4, mask=jaxact.nnx.weight_decay_mask_fn(model))
        optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    The slope positions are read when it is called: build it from the model
    the optimizer trains, after the model's submodules are in place.

    Args:
        model: an ``nnx.Module`` (or any graph node nnx can walk).

    Returns:
        A function from a parameter state to a tree of Python bools of its structure.

    Example:
        >>> from flax import nnx
        >>> import jaxact.nnx
        >>> model = nnx.Sequential(
        ...     jaxact.nnx.Maxout(4, 2, num_pieces=3, rngs=nnx.Rngs(0)), jaxact.nnx.PReLU(2))
        >>> mask = jaxact.nnx.weight_decay_mask_fn(model)(nnx.state(model, nnx.Param))
        >>> mask["layers"][1]["negative_slope"], mask["layers"][0]["weight"]
        (False, True)
    """
    slopes = {
        tuple(path) + ("negative_slope",)
        for path, module in nnx.iter_modules(model)
        if isinstance(module, (PReLU, nnx.PReLU))
    }

    def decays(path, _) -> bool:
        names = tuple(_key_name(entry) for entry in path)
        return not any(names[: len(slope)] == slope for slope in slopes)

    def mask(params):
        # A Variable (in nnx.state's tree, what nnx.Optimizer gives optax's
        # init) gets one bool, which optax applies to the array inside it.
        return jax.tree_util.tree_map_with_path(
            decays, params, is_leaf=lambda node: isinstance(node, nnx.Variable)
        )

    return mask


# --------------------------------------------------------------------------
# flax.serialization of the pytree layers


def _fields_to_state_dict(names):
    def to_state_dict(layer) -> dict:
        return {name: serialization.to_state_dict(getattr(layer, name)) for name in names}

    return to_state_dict


def _fields_from_state_dict(cls_name, names):
    def from_state_dict(target, state: dict):
        missing = [name for name in names if name not in state]
        extra = [name for name in state if name not in names]
        if missing or extra:
            raise ValueError(
                f"jaxact.{cls_name}: the state dict at {serialization.current_path() or '.'} "
                f"has fields {sorted(state)}, expected {list(names)}"
            )
        values = {
            name: serialization.from_state_dict(getattr(target, name), state[name], name=name)
            for name in names
        }
        return type(target)(**values, **_static_fields(target))

    return from_state_dict


def _static_fields(target) -> dict:
    return {"num_pieces": target.num_pieces} if isinstance(target, parametric.Maxout) else {}


_ARRAY_FIELDS = {parametric.PReLU: ("negative_slope",), parametric.Maxout: ("weight", "bias")}
for _cls, _names in _ARRAY_FIELDS.items():
    if not serialization.is_serializable(_cls):  # a second import (importlib.reload)
        serialization.register_serialization_state(
            _cls, _fields_to_state_dict(_names), _fields_from_state_dict(_cls.__name__, _names)
        )
