"""What every notebook does first: resolve folders, load the dataset provenance, show the banner,
and save figures with a descriptive name (stamped when the data are synthetic)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from speechemo.analysis import crosscorpus
from speechemo.features import extraction
from speechemo.foundations import files, plots, reference, stage_times
from speechemo.data import metadata
from speechemo.protocol import choice, evaluation as ev
from speechemo.data.download import DatasetInfo
from speechemo.foundations.executor import Executor
from speechemo.foundations.labels import TASK_CLASSES
from speechemo.foundations.paths import Layout, layout
from speechemo.foundations.profiles import Budget, Profile
from speechemo.foundations.profiles import get as get_profile
from speechemo.foundations.reproducibility import git_commit, machine, package_versions, seed_everything

SYNTHETIC_STAMP = "SYNTHETIC DATA - NOT RAVDESS"


@dataclass(frozen=True)
class Context:
    lay: Layout
    info: DatasetInfo
    profile: str
    settings: Profile
    run: str = ""                   # the run's resolved configuration, relative to outputs/results
    notebook: str = ""              # the notebook this context belongs to (its stage times name it)

    @property
    def dataset(self) -> str:
        return self.info.kind


def banner_markdown(info: DatasetInfo) -> str:
    """The loud banner shown whenever results come from the synthetic corpus."""
    if not info.is_synthetic:
        parts = ", ".join(f"{p.kind} from `{Path(p.source).name or p.source}`" for p in info.members())
        return f"**Dataset: {info.kind}** ({parts})."
    return ("<div style='border:3px solid #c00;padding:8px;background:#fee'>"
            f"<b>⚠ SYNTHETIC CORPUS ({info.kind}) — these results are NOT results on real speech.</b><br>"
            f"Why: {info.note}. The synthetic corpus only exercises the pipeline; point the "
            "workbook at RAVDESS (<code>make all DATASET=ravdess SOURCE=...</code>) for real numbers."
            "</div>")


def show_banner(info: DatasetInfo) -> None:
    try:
        from IPython.display import Markdown, display

        display(Markdown(banner_markdown(info)))
    except ImportError:  # outside Jupyter
        print(banner_markdown(info))


def quiet_known_warnings() -> None:
    """Silence warnings that say nothing about the work, each with its reason (any other warning
    still shows in the notebook and in the test log)."""
    import warnings

    # pooch (imported by librosa and by the downloader) imports tqdm.auto, which in a notebook
    # without ipywidgets warns once and falls back to the text bars the executed notebooks keep
    warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")


def start(data_dir: str = "data", outputs_dir: str = "outputs", profile: str = "full",
          seed: int = 0, banner: bool = True, notebook: str | None = None, params: dict | None = None) -> Context:
    """Resolve the folders, read ``dataset.json`` written by notebook 00, show the banner and, for a
    ``notebook``, write the run's resolved configuration (its parameters -- the simple values of
    ``params``, e.g. the notebook's ``globals()`` -- the profile, package versions and commit) to
    ``outputs/results/runs/``; the result rows it writes point to that file."""
    settings = get_profile(profile)
    quiet_known_warnings()
    lay = layout(data_dir, outputs_dir)
    info = DatasetInfo.load(lay.dataset_json)
    seed_everything(seed)
    if banner:
        show_banner(info)
    run = write_run(lay, notebook, parameters(params or {}), settings, info.kind) if notebook else ""
    return Context(lay, info, profile, settings, run, notebook or "")


def parameters(namespace: dict) -> dict:
    """The simple values of a namespace (numbers, strings, booleans, None and lists or dicts of
    them), without private names: a notebook's parameters when called right after its first cells."""
    def simple(v) -> bool:
        if v is None or isinstance(v, (bool, int, float, str)):
            return True
        if isinstance(v, (list, tuple)):
            return all(simple(x) for x in v)
        return isinstance(v, dict) and all(isinstance(k, str) and simple(x) for k, x in v.items())

    return {k: v for k, v in namespace.items() if not k.startswith("_") and k not in ("In", "Out") and simple(v)}


def write_run(lay: Layout, notebook: str, params: dict, settings: Profile, dataset: str) -> str:
    """Write ``runs/<notebook>-<UTC time>.json`` beside ``summary.csv``; returns its relative path."""
    import json
    from dataclasses import asdict
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    path = lay.runs / f"{notebook}-{now:%Y%m%dT%H%M%S}.json"
    record = {"notebook": notebook, "dataset": dataset, "parameters": params, "profile": asdict(settings),
              "packages": package_versions(), "commit": git_commit(), "machine": machine(),
              "started": now.isoformat(timespec="seconds")}
    files.write_text(path, json.dumps(record, indent=1, default=str) + "\n")
    return path.relative_to(lay.results).as_posix()


def save_figure(fig, ctx: Context, name: str) -> Path:
    """Write ``fig`` to ``outputs/figures/<name>.png``; synthetic figures carry a red stamp."""
    if ctx.info.is_synthetic:
        fig.text(0.5, 0.995, SYNTHETIC_STAMP, ha="center", va="top", color="#c00",
                 fontsize=11, weight="bold")
    path = ctx.lay.figures / f"{name}.png"
    with files.atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    return path


def stage(ctx: Context, name: str):
    """A context manager timing a stage of this notebook into ``stage_times.csv`` (the README's
    per-stage table, ``foundations.stage_times``)."""
    return stage_times.timed(ctx.lay.results, name, notebook=ctx.notebook, dataset=ctx.dataset,
                             profile=ctx.profile, run=ctx.run)


def extract(ctx: Context, table, sets: list[str], n_jobs: int = 2, executor=None, whisper_dir: str | None = None,
            progress: bool = True) -> extraction.Extraction:
    """``extraction.extract`` into this run's cache, with the profile's encoder chunking (a stage:
    the sets' features, computed or read from the cache)."""
    with stage(ctx, f"features: {', '.join(sets)} ({len(table)} clips)"):
        return extraction.extract(table, sets, ctx.lay.features, n_jobs, progress, whisper_dir or None,
                                  ctx.settings.encoder_chunk, executor)


def extraction_plan(ctx: Context, table, sets: list[str], everywhere: list[str]) -> list[tuple[str, object, list[str]]]:
    """``(label, rows, sets)`` of each extraction notebook 02 runs: one per engine (so that each
    one's speed is visible) on every clip; with several corpora, the sets not in ``everywhere`` run
    on the first corpus's clips only (the notebooks that read them -- the deep models, the seed's set,
    ComParE -- run there alone in a union)."""
    engines = list(dict.fromkeys(extraction.FEATURE_SETS[s].engine for s in sets))
    home = home_rows(ctx, table)
    local = [s for s in sets if s not in everywhere] if not home.all() else []
    plan = [(e, table, [s for s in sets if extraction.FEATURE_SETS[s].engine == e and s not in local]) for e in engines]
    first = ctx.info.members()[0].kind
    plan += [(f"{e}, {first} only", table[home], [s for s in local if extraction.FEATURE_SETS[s].engine == e])
             for e in engines]
    return [(label, rows, ss) for label, rows, ss in plan if ss]


def metadata_table(ctx: Context):
    """The dataset's metadata (notebook 00's ``metadata.csv``), one row per clip, before features."""
    return metadata.load_table(ctx.lay.metadata_csv)


def load_features(ctx: Context, sets: list[str], n_jobs: int = 2, whisper_dir: str | None = None,
                  first_corpus_only: bool = False):
    """Feature sets (from the cache notebook 02 filled) and the metadata rows aligned with them.

    Returns ``(extraction, meta)``; ``meta`` is indexed by file in the order of the features.
    ``first_corpus_only``: only the dataset's first corpus (what runs on RAVDESS alone within a
    union, e.g. the deep models, whose budget does not stretch to 6 times the clips).
    """

    table = metadata_table(ctx)
    if first_corpus_only and "corpus" in table:
        first = ctx.info.members()[0].kind
        if table["corpus"].nunique() > 1:
            print(f"several corpora: this notebook runs on the first one only ({first}); "
                  f"{(table.corpus != first).sum()} clips of the others are left out")
        table = table[table["corpus"] == first].reset_index(drop=True)
    ext = extract(ctx, table, sets, n_jobs, whisper_dir=whisper_dir, progress=False)
    if ext.failures:
        print(f"{len(ext.failures)} files could not be used (see notebook 02): "
              + ", ".join(f for f, _ in ext.failures))
    return ext, table.set_index("file").loc[ext.files]


def corpus_column(meta) -> np.ndarray | None:
    """The corpus of every row (``None`` for a metadata table written before unions existed)."""
    return meta["corpus"].to_numpy() if "corpus" in meta else None


def split_classes(task: str, y: np.ndarray, splits) -> list[str]:
    """The task's classes present in the rows the splits use (a leave-one-corpus-out split uses
    only the classes both sides share)."""

    used = np.unique(np.concatenate([np.concatenate([tr, te]) for tr, te in splits]))
    return ev.classes_for(task, y[used])


def evaluate(ctx: Context, fit_predict, y: np.ndarray, meta, *, task: str, features: str,
             model: str, protocol: str, normalisation: str, notebook: str,
             params: dict | None = None, seed: int = 0):
    """Cross-validate under ``protocol`` and record the result in ``outputs/results``."""

    corpus = corpus_column(meta)
    splits = ev.folds_for(protocol, y, meta["actor"].to_numpy(), seed, corpus)
    res = ev.cross_validate(fit_predict, y, splits, split_classes(task, y, splits),
                            files=list(meta.index))
    return _record(ctx, (task, model, features, normalisation, protocol), res, corpus, notebook, params)


def _cv_job(job: tuple) -> tuple:
    """One cross-validation (in a worker): returns its index, result and the models it kept."""

    i, fp, y, splits, classes, files, keep = job
    return i, ev.cross_validate(fp, y, splits, classes, files=files), keep


def evaluate_grid(ctx: Context, runs: list[tuple], meta, *, notebook: str, budget: Budget, fit_predict,
                  params=None, seed: int = 0, desc: str = "cross-validations", executor=None,
                  keep_for=None) -> tuple[dict[tuple, object], dict[tuple, list]]:
    """Cross-validate every run of a grid -- in parallel on ``executor`` (``speechemo.foundations.executor``;
    default: one after another here) -- and record each result in ``outputs/results``.

    ``runs``: tuples ``(task, model, features, normalisation[, protocol])`` (speaker-independent
    unless a protocol is given); ``fit_predict(task, model, features, normalisation, budget)``
    returns the fold function of one run, given that run's training budget (``budget`` for its
    protocol, ``evaluation.budget_for``: a corpus held out trains on every clip); with ``keep_for``,
    it also gets ``keep``: a list the fold function fills with fitted models, for the runs where
    ``keep_for(run)`` is true. Each row records its budget, and ``params(task, model, features,
    normalisation)`` what else to record with it. Workers only compute; this process alone writes the
    results. A run whose normalisation removes most of its target (``evaluation.removes_the_target``:
    gender z-scored within each voice) is not run; every single-clip run of such a task gets a ``voice``
    row instead (``per_voice``: each clip gets its voice's majority answer, no extra fit). Where two
    or more heads of a task, normalisation and protocol chose their settings by nested search, a
    ``nested_choice`` row takes, fold by fold, the head its training actors preferred
    (``choice.nested_choices``: a headline chosen without the test folds, no extra fit). On a union,
    every pooled run (the union's speaker folds, nested choices included) is also scored on each
    corpus's test clips alone, a ``pooled:<corpus>`` row (``evaluation.per_corpus``: what training on
    every corpus gives that corpus's unseen speakers, beside its ``within:<corpus>`` row; no extra
    fit). Returns
    ``(results, kept)`` keyed by run."""

    skipped = [r for r in runs if ev.removes_the_target(r[0], r[3])]
    if skipped:
        print(f"not run ({len(skipped)}): z-scoring each speaker removes most of what carries "
              f"{', '.join(sorted({r[0] for r in skipped}))} (constant within a voice); its '{ev.VOICE}' rows give "
              "each clip its voice's answer instead")
    runs = [r for r in runs if r not in skipped]
    ex = executor or Executor("", 1, 2)
    actors, corpus = meta["actor"].to_numpy(), corpus_column(meta)
    budgets = {run: ev.budget_for(budget, _protocol(run)) for run in runs}  # the one place a run's budget is chosen
    recorded = {run: {"budget": str(budgets[run]), **(params(*run[:4]) if params else {})} for run in runs}
    jobs = []
    for i, run in enumerate(runs):
        task, model, fs, norm, *rest = run
        y = ev.labels_for(meta, task)
        keep = [] if keep_for is not None and keep_for(run) else None
        fp = fit_predict(task, model, fs, norm, budgets[run], *([keep] if keep_for is not None else []))
        splits = ev.folds_for(_protocol(run), y, actors, seed, corpus)
        jobs.append((i, fp, y, splits, split_classes(task, y, splits), list(meta.index), keep))
    results, kept = {}, {}
    with stage(ctx, f"fits: {desc} ({', '.join(sorted({r[1] for r in runs}))})"):
        for i, res, keep in ex.map(_cv_job, jobs, desc=desc):
            run = runs[i]
            results[run] = _record(ctx, run, res, corpus, notebook, recorded[run])
            if keep is not None:
                kept[run] = keep
    chosen = choice.nested_choices(results, choice.features_for(notebook))  # by the training actors; no fit
    for run, res in chosen.items():
        recorded[run] = {"rule": "each fold: the head with the best inner-CV UA on its training actors",
                         "candidates": res.extra["candidates"], "chosen": res.folds.chosen.tolist()}
        results[run] = _record(ctx, run, res, corpus, notebook, recorded[run])
        runs.append(run)
    for run in [r for r in runs if _protocol(r) == ev.SPEAKER_INDEPENDENT and corpus is not None]:
        for protocol, res in ev.per_corpus(results[run], meta["corpus"]).items():  # the same fits, one corpus's clips
            seen = run[:4] + (protocol,)
            recorded[seen] = {**recorded[run], "scored_on": "one corpus's test clips of the pooled speaker folds"}
            results[seen] = _record(ctx, seen, res, corpus, notebook, recorded[seen])
            runs.append(seen)
    voices = {}
    for run in runs:
        if run[0] in ev.VOICE_CONSTANT_TASKS and run[3] == "none" and _protocol(run) != ev.RANDOM_SPLIT:
            voiced = run[:3] + (ev.VOICE,) + run[4:]
            voices[voiced] = _record(ctx, voiced, ev.per_voice(results[run], meta["actor"]), corpus, notebook,
                                     {**recorded[run], "voice": "majority of the voice's single-clip answers"})
    return {**{r: results[r] for r in runs}, **voices}, kept


def _protocol(run: tuple) -> str:
    return run[4] if len(run) > 4 else ev.SPEAKER_INDEPENDENT


def _record(ctx: Context, run: tuple, res, corpus, notebook: str, params: dict | None):
    """Write one run's row of ``summary.csv`` (and its folds and predictions); returns ``res``."""
    task, model, fs, norm = run[:4]
    train, test = ev.corpora_of(_protocol(run), corpus, ctx.dataset)
    row = ev.result_row(res, dataset=ctx.dataset, task=task, features=fs, model=model, protocol=_protocol(run),
                        normalisation=norm, profile=ctx.profile, notebook=notebook, params=params,
                        train_corpora=train, test_corpora=test, run=ctx.run)
    ev.record(ctx.lay.results, row, res)
    return res


def comparison_labels(rows: pd.DataFrame, dataset: str) -> pd.Series:
    """Bar labels ``model / features / norm=...``; a row tested on fewer corpora than the whole
    ``dataset`` (a union's deep models run on its first corpus alone) says which, since its UA is
    over a different test set from its neighbours'."""
    def canonical(corpora: str) -> str:
        return "+".join(sorted(str(corpora).split("+")))

    whole = canonical(dataset)
    tested = rows.test_corpora.fillna(dataset).map(canonical)
    suffix = tested.map(lambda t: "" if t == whole else f" (tested on {t} only)")
    return rows.model + " / " + rows.features + " / norm=" + rows.normalisation + suffix


def comparison_figure(ctx: Context, task: str, title: str, upto: str | None = None):
    """UA ± std of every speaker-independent result for ``task`` on this dataset (best variant
    per model and feature set), with the published figures as reference lines when they were
    measured on this dataset (``reference.emotion_references``).

    ``upto``: a notebook name; only rows written by it and the notebooks before it are shown, so a
    notebook's output never depends on whether a later notebook has run already."""

    s = ev.load_summary(ctx.lay.results)
    s = s[(s.task == task) & (s.dataset == ctx.dataset) & (s.protocol == ev.SPEAKER_INDEPENDENT)].copy()
    if upto is not None:
        s = s[s.notebook.astype(str) <= upto]
    s["label"] = comparison_labels(s, ctx.dataset)
    s = ev.rank(s).groupby(["model", "features"]).head(1)
    refs = reference.emotion_references(task, ctx.dataset)
    fig = plots.compare_bars(s, "ua", "ua_std", "label", f"{title} (dataset: {ctx.dataset})",
                             refs=refs, chance=1 / len(TASK_CLASSES[task]))
    return fig, s


def home_rows(ctx: Context, meta) -> np.ndarray:
    """Rows of the dataset's first corpus (all rows for a single corpus): where the descriptive
    analyses that need not run on a union (layer probe, calibrate-to-a-voice curve, deep models) run."""
    corpus = corpus_column(meta)
    return np.ones(len(meta), bool) if corpus is None else corpus == ctx.info.members()[0].kind


def union_grid(runs: list[tuple], tasks: list[str], models: list[str], sets: list[str] | dict[str, list[str]]
               ) -> tuple[list[tuple], list[tuple]]:
    """The ``(task, model, features, normalisation)`` runs a union can afford, and those left out.
    ``sets``: the feature sets of every task, or per task (``{task: sets}``)."""
    def allowed(task: str) -> list[str]:
        return sets.get(task, []) if isinstance(sets, dict) else sets

    keep = [r for r in runs if r[0] in tasks and r[1] in models and r[2] in allowed(r[0])]
    return keep, [r for r in runs if r not in keep]


def present(values: list, runs: list[tuple], position: int) -> list:
    """The ``values`` that some run has at ``position`` (0 task, 1 model, 2 features), in order:
    what a grid narrowed by ``union_grid`` still needs (e.g. which feature sets to load)."""
    return [v for v in values if any(r[position] == v for r in runs)]


def with_protocols(runs: list[tuple], meta, tasks=("emotion", "sentiment", "gender"),
                   sets: list[str] | None = None) -> list[tuple]:
    """``runs`` plus, when the dataset holds several corpora, each speaker-fold run of ``tasks``
    (and of the feature ``sets``, default all) under every other protocol: each corpus alone and
    each corpus held out. Corpus-wise z-scoring (``corpus``: what a batch of clips of an unseen
    corpus allows) runs only with a corpus held out: within one corpus it is the plain
    standardisation every model does, and pooled it answers no question the union's budget is for."""

    protocols = ev.protocols(corpus_column(meta))
    several = len(protocols) > 1
    pooled = [r for r in runs if len(r) == 4 or r[4] == ev.SPEAKER_INDEPENDENT]
    base = [r for r in pooled if r[0] in tasks and (sets is None or r[2] in sets)]
    kept = [r for r in runs if not (several and r[3] == "corpus" and r in pooled)]
    return kept + [r[:4] + (p,) for r in base for p in protocols
                   if p != ev.SPEAKER_INDEPENDENT and (r[3] != "corpus" or p.startswith(ev.LOCO + ":"))]


def record_cross_corpus(ctx: Context, scored, target: str, notebook: str) -> None:
    """Record each ``crosscorpus.Scored`` approach in ``summary.csv`` as a row of the target corpus
    (protocol ``cross_corpus``; ``train_corpora`` the context's dataset, ``test_corpora`` the target)."""

    for s in scored:
        a = s.approach
        row = ev.result_row(s.result, dataset=target, task=a.task, features=a.features, model=a.model,
                            protocol=crosscorpus.PROTOCOL, normalisation=a.normalisation, profile=ctx.profile,
                            notebook=notebook, params={"trained_on": ctx.dataset, "approach": a.label},
                            train_corpora=ctx.dataset, test_corpora=target, run=ctx.run)
        ev.record(ctx.lay.results, row, s.result)


def protocol_table(summary, notebook: str, dataset: str):
    """UA ± std (%) of a notebook's rows, one column per protocol (pooled speaker folds, each corpus
    alone, each corpus held out), with the corpora that trained and tested each column."""
    s = summary[(summary.notebook == notebook) & (summary.dataset == dataset)].copy()
    s["protocol"] = s.protocol.replace({"speaker_independent": "pooled"})
    s["column"] = s.protocol + " (" + s.train_corpora.astype(str) + " → " + s.test_corpora.astype(str) + ")"
    s["UA ± std"] = (s.ua * 100).map("{:.1f}".format) + " ± " + (s.ua_std * 100).map("{:.1f}".format)
    return s.pivot_table(index=["task", "model", "features", "normalisation"], columns="column",
                         values="UA ± std", aggfunc="first")
