"""The library's own QA tools, apart from the claims study in ``experiments/``.

- ``python -m benchmarks.bench`` (``make bench``): speed against jax.nn and the
  other contenders, writes ``benchmarks/results/bench.md``.
- ``python -m benchmarks.accuracy`` (``make accuracy``): float32 ULP errors over
  all 2^32 inputs, writes ``benchmarks/results/accuracy.md``.
- ``python -m benchmarks.fit``: refits the polynomial coefficients in
  ``jaxact/_src``.

The interleaved timer, the result files and the float64 references live in
``harness``, which the experiments and the tests share; nothing here imports
``experiments``.
"""
