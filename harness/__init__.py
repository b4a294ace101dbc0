"""What the benchmarks, the experiments and the tests share, apart from the library.

- ``harness.timing``: the interleaved timer and the machine line, so every
  timing is taken the same way and every report names its machine alike.
- ``harness.files``: atomic writes of the result files, and one-line errors
  naming a file that cannot be read.
- ``harness.runs``: what the command lines share: a lock per output
  directory, its checks before any work, one-line errors.
- ``harness.references``: the float64 references of the elementwise
  activations, which the tests and ``make accuracy`` compare against.

The layering runs one way: ``jaxact`` imports none of these packages;
``harness`` imports only ``jaxact``; ``benchmarks`` and ``experiments`` import
``harness`` and never each other; the library's tests import ``harness`` at
most (``tests/test_layering.py`` checks all of it).
"""
