"""jaxact.nn is the installed jax.nn's namespace, with jaxact's functions where it has them."""

import ast
import importlib
import inspect

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
import jaxact.nn
from jaxact import nn


def _public(names):
    return {name for name in names if not name.startswith("_")}


def test_names_are_those_of_the_installed_jax_nn():
    expected = _public(dir(jax.nn))
    assert _public(dir(nn)) == expected
    assert set(nn.__all__) == expected
    assert _public(vars(nn)) == expected  # no name beyond dir()'s
    assert "nn" in jaxact.__all__ and jaxact.nn is nn


def test_each_name_is_jaxacts_where_jaxact_has_it_else_jax_nns():
    ours = [name for name in nn.__all__ if hasattr(jaxact, name)]
    for name in nn.__all__:
        expected = getattr(jaxact, name) if name in ours else getattr(jax.nn, name)
        assert getattr(nn, name) is expected, name
    # Every jaxact function of a jax.nn name is there, not jax.nn's.
    for name in ours:
        assert getattr(nn, name) is not getattr(jax.nn, name), name
        assert getattr(nn, name).__module__.startswith("jaxact._src."), name
    assert {"sigmoid", "relu", "gelu", "softplus", "glu"} <= set(ours)
    assert {"softmax", "log_softmax", "logsumexp", "one_hot", "standardize"}.isdisjoint(ours)


def test_type_checkers_see_jax_nns_own_names():
    # The loop that copies jax.nn's names does not run under a type checker,
    # so nn.py spells them out under TYPE_CHECKING: exactly the copied ones.
    tree = ast.parse(inspect.getsource(nn))
    (block,) = [
        node for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "_TYPE_CHECKING"
    ]  # fmt: skip
    spelled = {alias.asname for node in block.body for alias in node.names}
    copied = {name for name in nn.__all__ if not hasattr(jaxact, name)}
    assert spelled == copied


def test_used_as_jax_nn():
    x = jnp.array([[-1.0, 0.5, 2.0]], jnp.float32)
    np.testing.assert_array_equal(nn.softmax(x), jax.nn.softmax(x))
    np.testing.assert_array_equal(nn.one_hot(jnp.array([1]), 3), jnp.array([[0.0, 1.0, 0.0]]))
    kernel = nn.initializers.glorot_normal()(jax.random.key(0), (3, 4))
    assert kernel.shape == (3, 4)
    np.testing.assert_array_equal(nn.gelu(x, approximate=False), jaxact.gelu(x, approximate=False))


def test_follows_a_changed_jax_nn(monkeypatch):
    # A JAX whose jax.nn gains a name and loses one that jaxact defines.
    def added(x):
        return x

    monkeypatch.setattr(jax.nn, "added_in_a_later_jax", added, raising=False)
    monkeypatch.delattr(jax.nn, "mish")
    try:
        module = importlib.reload(jaxact.nn)
        assert module.added_in_a_later_jax is added
        assert "added_in_a_later_jax" in dir(module) and "mish" not in dir(module)
        assert not hasattr(module, "mish")
        assert set(module.__all__) == _public(dir(jax.nn))
    finally:
        monkeypatch.undo()
        importlib.reload(jaxact.nn)
    assert jaxact.nn.mish is jaxact.mish and not hasattr(jaxact.nn, "added_in_a_later_jax")
