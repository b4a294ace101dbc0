"""The speed targets of the bench and their pass/fail, from the measured results.

Every limit is a ratio to what a user would otherwise call (median of paired
per-rep ratios); issue numbers name where each target was set. Every target
names the ISA level its row was measured at (``"default"``, the best the CPU
has, or ``"AVX2"``, XLA capped by ``--xla_cpu_max_isa=AVX2``).
"""

from __future__ import annotations

# Elementwise functions under jit at 2^24 values (float32, bfloat16, float64),
# and at the sizes of the scaling table from LARGE_SIZE up (issues 2, 12, 20).
ELEMENTWISE_LIMIT = 1.10
# In cache (the in-cache rows, 2^16 to 2^20 values, forward and forward+vjp),
# where the arithmetic shows undiluted by memory traffic (issue 20). The
# scaling table's sizes below LARGE_SIZE get it too: their arrays are in cache
# as well, and below 2^16 the per-call overhead, the same for both contenders,
# only pulls the ratio towards 1.
IN_CACHE_LIMIT = 1.25
# The first size whose float32 arrays (16 MiB each) outgrow the caches.
LARGE_SIZE = 1 << 22
# Un-jitted calls on 128 values, forward and grad (issue 12).
EAGER_LIMIT = 2.0
# jaxact.prelu forward+vjp (gradients in x and the slopes) against the autodiff
# PReLU of flax and equinox, jnp.where(x >= 0, x, a * x) (issue 12).
PRELU_AUTODIFF_LIMIT = 1.0
# prelu forward against leaky_relu forward (issues 3, 12).
PARAMETRIC_LIMIT = 1.10
# Maxout against its Dense floor: forward (inference) and forward+backward
# (issues 3, 12, 20).
MAXOUT_FORWARD_LIMIT = 1.10
MAXOUT_BACKWARD_LIMIT = 1.00
# The MLP training steps (issues 5, 12).
MLP_TIME_LIMIT = 1.05
# Compile time of the 20-layer MLP step (issues 12, 20).
MLP_COMPILE_LIMIT = 1.5
# Temporary memory of the MLP step against the same step with jax.nn.relu: no
# activation-sized array per layer beyond the one relu keeps (issue 12). The
# bound is in such arrays, a hundredth of one being allowed for the scalars
# and small buffers XLA may add (squareplus's step keeps 4 bytes more).
MLP_EXTRA_ARRAYS_LIMIT = 0.01
# The models suite's training steps (GPT-2-style, LLaMA-style, the PINN):
# step time, compile time and temporary memory against jax.nn's (issue 20).
MODEL_TIME_LIMIT = 1.02
MODEL_COMPILE_LIMIT = 1.10
MODEL_MEMORY_LIMIT = 1.00

# The order of the ISA levels in the tables.
ISA_ORDER = ("default", "AVX2")


def extra_arrays_per_layer(row: dict) -> float:
    """An MLP row's activation-sized arrays per layer beyond the jax.nn.relu step's."""
    return row["arrays_per_layer"] - row["relu_arrays_per_layer"]


def scaling_ranges(rows: list[dict]) -> list[tuple[list[int], float]]:
    """The scaling table's sizes split where its limit changes: (sizes, limit) for
    the sizes below LARGE_SIZE and for those from it up, each where measured."""
    sizes = sorted({row["n"] for row in rows})
    ranges = [([n for n in sizes if n < LARGE_SIZE], IN_CACHE_LIMIT),
              ([n for n in sizes if n >= LARGE_SIZE], ELEMENTWISE_LIMIT)]
    return [(part, limit) for part, limit in ranges if part]


def size_span(sizes: list[int]) -> str:
    """'2^16–2^20' for sorted sizes (one size: '2^16')."""
    first, last = sizes[0].bit_length() - 1, sizes[-1].bit_length() - 1
    return f"2^{first}" if first == last else f"2^{first}–2^{last}"


def worst_scaling(rows: list[dict], sizes=None) -> dict[tuple, tuple[float, int]]:
    """key -> (largest jaxact / reference ratio over the sizes, the size where it is).

    The key is (name, mode, isa) of each jaxact row (mode "forward" and isa
    "default" where a row has none, as in the scaling table); ``sizes``
    restricts the rows to those sizes."""
    worst: dict[tuple, tuple[float, int]] = {}
    for row in rows:
        if row["contender"] == "jaxact" and (sizes is None or row["n"] in sizes):
            key = (row["name"], row.get("mode", "forward"), row.get("isa", "default"))
            if key not in worst or row["ratio_reference"] > worst[key][0]:
                worst[key] = (row["ratio_reference"], row["n"])
    return worst


def _isa_rank(isa: str) -> int:
    return ISA_ORDER.index(isa) if isa in ISA_ORDER else len(ISA_ORDER)


def check_targets(results: dict) -> list[dict]:
    """One row per target: what was measured, the limit, the ISA level and whether
    it passed. A target measured at both ISA levels gives two rows, side by side."""
    targets = []
    # What pairs a target's rows at the two ISA levels: its text, or for the
    # worst-size targets the text without the size, which may differ by level.
    groups = []

    def add(target, measured, limit, row=None, group=None):
        # passed is None when the contender could not be measured at all.
        passed = None if measured is None else measured <= limit
        targets.append({"target": target, "isa": (row or {}).get("isa", "default"),
                        "measured": measured, "limit": limit, "passed": passed})
        groups.append(group or target)

    for row in results["elementwise"]:
        if row["contender"] == "jaxact":
            add(f"{row['name']} {row['mode']} {row['dtype']} vs {row['reference']}",
                row["ratio_reference"], ELEMENTWISE_LIMIT, row)
    in_cache = results.get("in_cache", [])
    if in_cache:
        span = size_span(sorted({row["n"] for row in in_cache}))
        references = {row["name"]: row["reference"] for row in in_cache}
        for (name, mode, isa), (ratio, n) in worst_scaling(in_cache).items():
            what = f"{name} {mode} float32 vs {references[name]} in cache, every size {span}"
            add(f"{what} (worst: 2^{n.bit_length() - 1})", ratio, IN_CACHE_LIMIT,
                {"isa": isa}, group=what)
    for sizes, limit in scaling_ranges(results["scaling"]):
        references = {row["name"]: row["reference"] for row in results["scaling"]}
        for (name, _, isa), (ratio, n) in worst_scaling(results["scaling"], sizes).items():
            what = f"{name} forward float32 vs {references[name]} at every size {size_span(sizes)}"
            add(f"{what} (worst: 2^{n.bit_length() - 1})", ratio, limit, {"isa": isa},
                group=what)
    for row in results["eager"]:
        if row["contender"] == "jaxact":
            add(f"{row['name']} eager {row['mode']} ({row['n']} values) vs {row['reference']}",
                row["ratio_reference"], EAGER_LIMIT, row)
    for row in results["parametric"]:
        group, mode, label = row["group"], row["mode"], row["contender"]
        if group.startswith("prelu") and mode == "forward+vjp":
            if label == "jaxact.prelu":
                add(f"{group} forward+vjp vs {row['reference']}", row["ratio_reference"],
                    PRELU_AUTODIFF_LIMIT, row)
            elif label.endswith("PReLU"):
                # jaxact.prelu against the library's PReLU: the inverse of that
                # row's ratio to the same reference, paired within the same reps.
                prelu = next(r for r in results["parametric"] if (r["group"], r["mode"],
                             r["contender"]) == (group, mode, "jaxact.prelu"))
                measured = (None if row["ratio_reference"] is None
                            else prelu["ratio_reference"] / row["ratio_reference"])
                add(f"{group} forward+vjp vs {label}", measured, PRELU_AUTODIFF_LIMIT, row)
        if (group, mode, label) == ("prelu", "forward", "jaxact.prelu"):
            add("prelu forward vs jax.nn.leaky_relu forward", row["ratio_leaky_relu"],
                PARAMETRIC_LIMIT, row)
        if label == "jaxact.Maxout":
            limit = MAXOUT_FORWARD_LIMIT if mode == "forward" else MAXOUT_BACKWARD_LIMIT
            add(f"Maxout {mode} vs Dense floor", row["ratio_reference"], limit, row)
    for row in results["mlp_small"]:
        if row["contender"] == "jaxact":
            add(f"small MLP step ({row['name']}, {row['depth']} layers of {row['width']}, "
                f"batch {row['batch']}) vs {row['reference']}", row["ratio_reference"],
                MLP_TIME_LIMIT, row)
    for row in results["mlp"]:
        if row["contender"] == "jaxact":
            what = f"{row['depth']}-layer MLP step ({row['name']})"
            add(f"{what} vs {row['reference']}: time", row["ratio_reference"], MLP_TIME_LIMIT,
                row)
            add(f"{what} vs {row['reference']}: compile time", row["compile_ratio"],
                MLP_COMPILE_LIMIT, row)
            add(f"{what}: activation-sized arrays per layer beyond the jax.nn.relu step",
                extra_arrays_per_layer(row), MLP_EXTRA_ARRAYS_LIMIT, row)
    for row in results.get("models", []):
        if row["contender"] == "jaxact":
            what = f"{row['model']} step ({row['name']}, {row['dtype']}) vs {row['reference']}"
            add(f"{what}: time", row["ratio_reference"], MODEL_TIME_LIMIT, row)
            add(f"{what}: compile time", row["compile_ratio"], MODEL_COMPILE_LIMIT, row)
            add(f"{what}: temporary memory", row["temp_ratio"], MODEL_MEMORY_LIMIT, row)
    # The same target at both ISA levels side by side, in the order of first appearance.
    first: dict[str, int] = {}
    for index, group in enumerate(groups):
        first.setdefault(group, index)
    order = sorted(range(len(targets)),
                   key=lambda i: (first[groups[i]], _isa_rank(targets[i]["isa"])))
    return [targets[i] for i in order]
