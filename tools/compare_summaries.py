"""Compare two ``summary.csv`` files row by row on their metrics (a refactor must not move a number).

    python tools/compare_summaries.py BEFORE.csv AFTER.csv [--tol 1e-9]

Rows are matched on the results table's key (``evaluation.KEY``: dataset, task, features, model,
protocol, normalisation) and the notebook; timings, stamps and parameters are not compared. Exits 1 and
lists the differences when a row is missing on one side or a metric differs by more than ``--tol``.
"""
import argparse
import sys

import pandas as pd

from speechemo.protocol import evaluation

KEY = evaluation.KEY + ["notebook"]  # the results table's own key (one row per key), and who wrote it
METRICS = ["wa", "wa_std", "ua", "ua_std", "macro_f1", "macro_f1_std", "n_folds", "n_utterances"]


def differences(before: pd.DataFrame, after: pd.DataFrame, tol: float = 1e-9) -> list[str]:
    """What differs between two summaries: missing rows, then metrics further apart than ``tol``."""
    key = [k for k in KEY if k in before and k in after]
    merged = before.merge(after, on=key, how="outer", suffixes=("_before", "_after"), indicator=True)
    out = [f"only {name}: " + "/".join(map(str, row[key]))
           for side, name in (("left_only", "before"), ("right_only", "after"))
           for _, row in merged[merged["_merge"] == side].iterrows()]
    both = merged[merged["_merge"] == "both"]
    for m in METRICS:
        if f"{m}_before" not in both:
            continue
        gap = (both[f"{m}_before"].astype(float) - both[f"{m}_after"].astype(float)).abs()
        out += [f"{m} {row[f'{m}_before']} -> {row[f'{m}_after']}: " + "/".join(map(str, row[key]))
                for _, row in both[gap.fillna(0) > tol].iterrows()]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--tol", type=float, default=1e-9)
    a = ap.parse_args(argv)
    diff = differences(pd.read_csv(a.before), pd.read_csv(a.after), a.tol)
    n = len(pd.read_csv(a.after))
    print(f"{n} rows compared: " + ("identical on metrics" if not diff else f"{len(diff)} differences"))
    print(*diff[:50], sep="\n")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
