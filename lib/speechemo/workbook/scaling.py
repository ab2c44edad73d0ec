"""How the parallel steps scale: measure clips/s with 1 and 2 Dask workers here, and project the
wall time of larger corpora on more workers (a plan on paper, not a measurement).

``python -m speechemo.workbook.scaling --clips 240`` extracts every feature set for a sample of the corpus
in ``data/metadata.csv`` into a throw-away cache, once per worker count, times one
cross-validation grid the same way, and writes ``outputs/results/scaling.csv`` and the plan drawn
from it, ``outputs/results/scaling_plan.csv``; ``make report`` puts both in the README.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from speechemo.models import classical
from speechemo.features import extraction
from speechemo.data import metadata
from speechemo.foundations import files, profiles
from speechemo.workbook import steps
from speechemo.protocol import evaluation as ev
from speechemo.data.download import DatasetInfo
from speechemo.features.encoders import WHISPER_BASE
from speechemo.foundations.executor import executor
from speechemo.foundations.paths import Layout

PLAN_CLIPS = (10_000, 100_000)
PLAN_WORKERS = (1, 8, 32)


def projection(clips_per_s_one_worker: float, efficiency: float, clips=PLAN_CLIPS,
               workers=PLAN_WORKERS) -> pd.DataFrame:
    """Projected wall time (hours) = clips / (rate of one worker x workers x efficiency), with
    the parallel efficiency measured from 1 to 2 workers here (capped at 1)."""
    eff = min(max(efficiency, 0.05), 1.0)
    rows = [{"clips": n, "workers": w,
             "hours": n / (clips_per_s_one_worker * (w if w == 1 else w * eff)) / 3600}
            for n in clips for w in workers]
    return pd.DataFrame(rows).pivot(index="clips", columns="workers", values="hours")


FEATURE_STEP = "features: "
PER_CLIP_STEPS = ("features: seed, functionals, sequence, image", "features: egemaps, compare")


def plan_inputs(scaling: pd.DataFrame) -> tuple[float, float]:
    """From ``scaling.csv``: clips/s of one worker on one core for every feature set (each feature
    step's core-seconds per clip with one core per worker, summed) and the parallel efficiency from 1
    to 2 workers (the lower of the per-clip steps'; the encoder already uses both cores in one worker,
    so its 1-to-2 ratio measures threads against processes, not more machines)."""
    rate = scaling.pivot(index="step", columns="workers", values="per_s")
    features = [step for step in rate.index if step.startswith(FEATURE_STEP)]
    core_seconds = sum(2 / rate.loc[step, 2] for step in features)
    efficiency = min(rate.loc[step, 2] / (2 * rate.loc[step, 1]) for step in PER_CLIP_STEPS)
    return 1 / core_seconds, float(efficiency)


def _time_extraction(table: pd.DataFrame, sets: list[str], scheduler: str) -> float:

    with executor(scheduler) as ex, tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "features"
        # the encoder's weights are joined once per cache: point the throw-away cache at the real one
        (Path(tmp) / "models").symlink_to(Path("data/models").resolve(), target_is_directory=True)
        if ex.is_dask:  # workers warm: imports and the encoder loaded on every worker before the clock starts
            extraction.extract(table.iloc[:4], sets, cache, progress=False, executor=ex)
            if WHISPER_BASE in sets:
                ex.client.run(extraction.warm_encoder, str(Path(tmp) / "models"), None)
        start = time.perf_counter()
        extraction.extract(table.iloc[4:], sets, cache, progress=False, executor=ex)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clips", type=int, default=244)
    ap.add_argument("--metadata", default="data/metadata.csv")
    ap.add_argument("--outputs-dir", default="outputs", help="scaling.csv and scaling_plan.csv go to its results/")
    a = ap.parse_args(argv)
    table = metadata.load_table(Path(a.metadata)).sample(n=a.clips + 4, random_state=0)
    rows = []
    for sets in (["seed", "functionals", "sequence", "image"], ["egemaps", "compare"], [WHISPER_BASE]):
        for n in (1, 2):
            sec = _time_extraction(table, sets, f"local:{n}")
            rows.append({"step": FEATURE_STEP + ", ".join(sets), "workers": n, "items": a.clips,
                         "seconds": round(sec, 1), "per_s": round(a.clips / sec, 2)})
            print(rows[-1], flush=True)
    # one CV grid: the 16 classical configurations of one task on the functionals

    full = metadata.load_table(Path(a.metadata))
    ext = extraction.extract(full, ["functionals"], "data/features", progress=False)
    meta = full.set_index("file").loc[ext.files]
    X, actors = ext.tables["functionals"].to_numpy(), meta["actor"].to_numpy()
    runs = [("emotion", m, "functionals", n) for m in classical.MODELS[:4] for n in ("none", "speaker")]
    budget = profiles.get("quick").training
    for n in (1, 2):
        with executor(f"local:{n}") as ex, tempfile.TemporaryDirectory() as tmp:

            lay = Layout(Path(tmp), Path(tmp), Path(tmp))
            lay.results.mkdir(parents=True)
            ctx = steps.Context(lay, DatasetInfo("scaling", tmp, "timing only"), "quick", profiles.get("quick"))
            start = time.perf_counter()
            steps.evaluate_grid(ctx, runs, meta, notebook="scaling", executor=ex, budget=budget,
                                fit_predict=lambda t, m, fs, nm, b: classical.fit_predict_fn(
                                    m, ev.speaker_normalise(X, actors) if nm == "speaker" else X,
                                    ev.labels_for(meta, t), actors, b, n_jobs=ex.threads))
            sec = time.perf_counter() - start
        rows.append({"step": "CV grid: 4 models x 2 normalisations, emotion, quick budget", "workers": n,
                     "items": len(runs), "seconds": round(sec, 1), "per_s": round(len(runs) / sec, 3)})
        print(rows[-1], flush=True)
    out = pd.DataFrame(rows)
    plan = projection(*plan_inputs(out))
    lay = Layout(Path.cwd(), Path("data"), Path(a.outputs_dir))
    files.write_csv(out, lay.scaling_csv)
    files.write_csv(plan.reset_index(), lay.scaling_plan_csv)
    print(out.to_string(index=False), "\n\nplan on paper (hours):\n", plan.round(2).to_string())


if __name__ == "__main__":
    main()
