"""Experiments that measure the source document's claims about activation functions.

Run one with ``python -m experiments NAME`` or all of them with
``python -m experiments all`` (``make experiments``). Each experiment is one
module exposing ``run(options) -> dict`` (the numbers, JSON-ready),
``plot(results, path)`` and ``claims(results) -> list[dict]`` (the verdicts,
computed from the numbers by explicit rules); ``experiments.report`` turns the
JSON files into ``REPORT.md``.
"""

# The order in which `all` runs them and the report lists their claims.
EXPERIMENT_NAMES = (
    "curves",
    "saturation",
    "zero_centred",
    "convergence",
    "dead_relu",
    "prelu",
    "elu",
    "maxout",
    "cost",
    # Where jaxact's accurate derivatives change what training does (issue 22).
    "adam_saturation",
    "gru_gates",
    "newton_logistic",
    "tail_likelihood",
    "deep_precision",
    "gelu_silu_null",
    "pinn_laplacian",
)
