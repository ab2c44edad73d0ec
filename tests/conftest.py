"""Shared fixtures, made once per test session: a tiny synthetic corpus and a bundle exported from it."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from speechemo.protocol import evaluation as ev
from speechemo.deployment import explore_files, export, selection
from speechemo.features import extraction
from speechemo.foundations import profiles
from speechemo.foundations.labels import TASK_CLASSES

from speechemo.data.metadata import build_metadata
from speechemo.data.synthetic import generate_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """Two actors (one male, one female), 120 files at 48 kHz."""
    root = tmp_path_factory.mktemp("corpus")
    return generate_corpus(root, actors=[1, 4], seed=0, progress=False)


@pytest.fixture(scope="session")
def tiny_table(tiny_corpus):
    table, _ = build_metadata(tiny_corpus, expected_actors=[1, 4], progress=False)
    return table


POLICY = {"statistic": "mean only", "min_clips": 3, "ua_single": 0.5, "curve": {"mean only": {"0": 0.5, "3": 0.6}}}


def _row(model: str, feats: str, norm: str = "none", ua: float = 0.5) -> pd.Series:
    return pd.Series({"model": model, "features": feats, "normalisation": norm, "ua": ua,
                      "ua_std": 0.05, "wa": ua, "wa_std": 0.05, "macro_f1": ua})


@pytest.fixture(scope="session")
def bundle_dir(tiny_table, tmp_path_factory):
    """Built once per test session (encoding and two TFLite conversions take a while) and shared by
    the app, cross-corpus, load and browser tests. A bundle as notebook 07 writes it: the TFLite encoder, a ridge emotion head on its pooled
    states (single clip and speaker-centred), a logistic-regression gender head on functionals."""
    from speechemo.models import calibration
    from speechemo.deployment import card
    from speechemo.features import whisper

    work = tmp_path_factory.mktemp("bundle")
    ext = extraction.extract(tiny_table, ["whisper_base", "functionals"], work / "data" / "features", n_jobs=1,
                           progress=False)
    meta = tiny_table.set_index("file").loc[ext.files]
    actors = meta.actor.to_numpy()
    budget = profiles.get("quick").training
    plan = [{"name": "emotion", "task": "emotion", "normalisation": "none", "row": _row("ridge", "whisper_base")},
            {"name": "emotion_speaker", "task": "emotion", "normalisation": "speaker",
             "row": _row("ridge", "whisper_base", "speaker")},
            {"name": "gender", "task": "gender", "normalisation": "none", "row": _row("logreg", "functionals")}]
    plan = selection.with_statistics(plan, POLICY)  # one corpus: every speaker head takes the policy's statistic
    calibrated = {}
    for p in plan:
        p["best_any"] = p["row"]
        X, params = export.head_matrix(p, ext.tables, actors)
        y = ev.labels_for(meta, p["task"])
        # two actors: the temperature comes from the other actor's logits (one inner group each)
        head = calibration.fit_head(p["row"].model, X, y, actors, budget, TASK_CLASSES[p["task"]], params, 1)
        calibrated[p["name"]] = {"head": head, "metrics": {"ua": 0.5, "ua_std": 0.0, "wa": 0.5, "wa_std": 0.0,
                                                           "macro_f1": 0.5},
                                 "ece": {"ece_before": 0.3, "ece_before_std": 0.0, "ece_after": 0.1, "ece_after_std": 0.0}}
    names = {"functionals": list(ext.tables["functionals"].columns)}
    spec = export.bundle_spec(plan, calibrated, names, "synthetic", POLICY, with_encoder=True)
    encoder = whisper.Encoder.load(work / "data" / "models")
    out = work / "deploy"
    summary = work / "summary.csv"  # a results table in the summary's layout, for the Results page
    pd.DataFrame([{"dataset": "synthetic", "task": t, "features": f, "model": m, "protocol": pr, "normalisation": "none",
                   "train_corpora": tr, "test_corpora": te, "ua": ua, "ua_std": 0.05, "wa": ua, "wa_std": 0.05}
                  for t, f, m, pr, tr, te, ua in [
                      ("emotion", "whisper_base", "ridge", "speaker_independent", "synthetic", "synthetic", 0.61),
                      ("emotion", "functionals", "logreg", "speaker_independent", "synthetic", "synthetic", 0.42),
                      ("gender", "functionals", "logreg", "speaker_independent", "synthetic", "synthetic", 0.97),
                      ("emotion", "whisper_base", "ridge", "loco:other", "synthetic", "other", 0.33)]]).to_csv(summary, index=False)
    extra = {"summary.csv": summary, **explore_files.write_explore(meta.assign(corpus="synthetic"), work / "explore")}
    export.write_bundle(out, spec, {n: c["head"] for n, c in calibrated.items()},
                        card.model_card(spec, {}, len(meta), 2), extra, ["flask"], encoder)
    # what the notebook-side models (Keras encoder, fitted heads) say for three files
    ref = {}
    for f in ext.files[:3]:
        x = ext.tables["whisper_base"].loc[[f]].to_numpy()
        ref[f] = calibrated["emotion"]["head"].proba(x)[0].tolist()
    out.joinpath("reference.json").write_text(json.dumps(ref))
    return out


@pytest.fixture(scope="session")
def long_wav(tiny_table, tmp_path_factory) -> tuple[Path, list[tuple[float, float]]]:
    """A 2-minute recording: 45 clips of the tiny corpus (two voices, several emotions) with
    0.8-s pauses between them, and where each clip sits."""
    import soundfile as sf

    from speechemo.data import audio
    from speechemo.data.synthetic import long_recording

    y, spans = long_recording([audio.load(p) for p in tiny_table.path[:45]], audio.TARGET_SR, pause=0.8)
    path = tmp_path_factory.mktemp("long") / "two-minutes.wav"
    sf.write(path, y, audio.TARGET_SR, subtype="PCM_16")
    return path, spans
