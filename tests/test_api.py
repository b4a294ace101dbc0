"""jaxact as a drop-in for jax.nn: the same names, signatures and home modules.

A user who writes ``import jaxact as nn`` in place of ``jax.nn`` must be able to
call every activation with the same arguments, by position or keyword.
"""

from __future__ import annotations

import inspect

import jax
import pytest

import jaxact

JAX_NN_ACTIVATIONS = (
    "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "log_sigmoid",
    "silu", "swish", "gelu", "mish", "selu", "celu", "soft_sign", "squareplus",
    "relu6", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "sparse_plus",
    "sparse_sigmoid", "log1mexp", "glu",
)  # fmt: skip


def _shape(signature: inspect.Signature) -> list[tuple]:
    # Annotations differ in spelling only (strings vs types); names, kinds and
    # defaults are what a caller relies on.
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("name", JAX_NN_ACTIVATIONS)
def test_exported_with_the_signature_of_jax_nn(name):
    assert name in jaxact.__all__
    ours = inspect.signature(getattr(jaxact, name))
    theirs = inspect.signature(getattr(jax.nn, name))
    assert _shape(ours) == _shape(theirs), (name, ours, theirs)


@pytest.mark.parametrize("name", JAX_NN_ACTIVATIONS)
def test_defined_in_the_module_its_family_names(name):
    # A plain function in jaxact._src.<family>, not an object built by a factory,
    # so a reader finds it by its name.
    fn = getattr(jaxact, name)
    assert inspect.isfunction(fn), name
    assert fn.__module__.startswith("jaxact._src."), fn.__module__
    assert fn.__doc__ and "Example" in fn.__doc__, name


def test_every_public_name_is_documented():
    for name in jaxact.__all__:
        obj = getattr(jaxact, name)
        assert obj.__doc__, name
