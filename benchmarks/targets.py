"""The speed targets of the bench and their pass/fail, from the measured results."""

from __future__ import annotations

# Targets from issues 2, 3 and 5.
ELEMENTWISE_LIMIT = 1.10
PARAMETRIC_LIMIT = 1.10
MLP_TIME_LIMIT = 1.05
MLP_MEMORY_LIMIT = 1.0
MLP_COMPILE_LIMIT = 1.10


def check_targets(results: dict) -> list[dict]:
    """One row per target: what was measured, the limit, and whether it passed."""
    targets = []

    def add(target, measured, limit):
        # passed is None when the contender could not be measured at all.
        passed = None if measured is None else measured <= limit
        targets.append({"target": target, "measured": measured, "limit": limit,
                        "passed": passed})

    for row in results["elementwise"]:
        if row["contender"] == "jaxact":
            add(f"{row['name']} {row['mode']} {row['dtype']} vs {row['reference']}",
                row["ratio_reference"], ELEMENTWISE_LIMIT)
    for row in results["parametric"]:
        if row["contender"] == "jaxact.prelu" and row["mode"] == "forward+vjp":
            add("prelu forward+vjp vs jax.nn.leaky_relu", row["ratio_reference"],
                PARAMETRIC_LIMIT)
        if row["contender"] == "jaxact.Maxout" and row["mode"] == "forward+backward":
            add("Maxout forward+backward vs Dense floor", row["ratio_reference"],
                PARAMETRIC_LIMIT)
    for row in results["mlp"]:
        if row["contender"] == "jaxact":
            what = f"MLP step ({row['name']}) vs {row['reference']}"
            add(f"{what}: time", row["ratio_reference"], MLP_TIME_LIMIT)
            add(f"{what}: temp memory", row["temp_ratio"], MLP_MEMORY_LIMIT)
            add(f"{what}: compile time", row["compile_ratio"], MLP_COMPILE_LIMIT)
    return targets
