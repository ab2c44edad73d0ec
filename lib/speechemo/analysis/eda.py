"""Descriptive statistics for the exploratory notebook (no plotting here)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from speechemo.data import audio
from speechemo.foundations.executor import Executor, thread_budget
from speechemo.foundations.labels import EMOTION_NAMES, SENTIMENT_NAMES


def class_balance(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Counts per label and the cross-tabulations a student should see first."""

    order = {"emotion": EMOTION_NAMES, "sentiment": SENTIMENT_NAMES}

    def ordered(frame: pd.DataFrame, col: str) -> pd.DataFrame:
        return frame.reindex([c for c in order[col] if c in frame.index]) if col in order else frame

    out = {c: ordered(table[c].value_counts().sort_index().to_frame("files"), c)
           for c in ("emotion", "intensity", "gender", "statement", "sentiment")}
    out["emotion x intensity"] = ordered(pd.crosstab(table.emotion, table.intensity), "emotion")
    out["emotion x gender"] = ordered(pd.crosstab(table.emotion, table.gender), "emotion")
    out["sentiment x gender"] = ordered(pd.crosstab(table.sentiment, table.gender), "sentiment")
    if "corpus" in table and table["corpus"].nunique() > 1:  # several corpora, side by side
        out["corpus"] = table["corpus"].value_counts().sort_index().to_frame("files")
        for col in ("emotion", "sentiment", "gender"):
            out[f"{col} x corpus"] = ordered(pd.crosstab(table[col], table.corpus), col)
        out["actors x corpus"] = table.drop_duplicates("actor").pivot_table(
            index="gender", columns="corpus", values="actor", aggfunc="count", fill_value=0)
    return out


def _silence(path: str, top_db: float) -> tuple[float, float, float]:
    import librosa

    y = audio.load(path, trim=False)
    _, (a, b) = librosa.effects.trim(y, top_db=top_db, frame_length=2048, hop_length=512)
    sr = audio.TARGET_SR
    return a / sr, (y.size - b) / sr, (b - a) / sr


def _silence_of(item: tuple[int, str, float]) -> tuple[int, tuple[float, float, float]]:
    return item[0], _silence(item[1], item[2])


def silence_table(table: pd.DataFrame, top_db: float = audio.TRIM_TOP_DB, n_jobs: int = 2,
                  progress: bool = True) -> pd.DataFrame:
    """Leading/trailing silence and speech duration (s) per file, same threshold as the front end."""
    ex = Executor("", n_jobs, thread_budget(n_jobs))
    found = dict(ex.map(_silence_of, [(i, p, top_db) for i, p in enumerate(table["path"])], desc="measuring silence",
                        progress=progress, total=len(table)))
    rows = [found[i] for i in range(len(table))]
    out = pd.DataFrame(rows, columns=["lead_silence", "trail_silence", "speech"], index=table.index)
    return pd.concat([table[["file", "actor", "gender", "emotion"]], table["duration"], out], axis=1)


def example_per_emotion(table: pd.DataFrame, actor: int | None = None, statement: int = 1) -> pd.DataFrame:
    """One utterance per emotion from one RAVDESS actor and statement (strong intensity where it
    exists); the statement column of a union holds CREMA-D's sentence codes too."""
    actor = actor if actor is not None else int(table.actor.min())
    sub = table[(table.actor == actor) & (table.statement.astype(str) == str(statement)) & (table.repetition == 1)]
    sub = sub.sort_values("intensity_code").groupby("emotion_code").tail(1)
    return sub.sort_values("emotion_code")


def embedding_2d(X: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """t-SNE of standardised utterance-level features."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(X)
    perplexity = min(perplexity, (len(Z) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca",
                learning_rate="auto").fit_transform(Z)


def neighbour_agreement(X: np.ndarray, labels: np.ndarray, k: int = 10) -> tuple[float, float]:
    """Share of each utterance's ``k`` nearest neighbours (standardised features) with the same
    label, and the share expected by chance; their ratio says how much a labelling clusters."""
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(X)
    idx = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z, return_distance=False)[:, 1:]
    labels = np.asarray(labels)
    same = float((labels[idx] == labels[:, None]).mean())
    _, counts = np.unique(labels, return_counts=True)
    chance = float(((counts / counts.sum()) * ((counts - 1) / (counts.sum() - 1))).sum() / (counts / counts.sum()).sum())
    return same, chance


def _counts(table: pd.DataFrame, col: str, by: pd.Series) -> dict[str, dict[str, int]]:
    order = {"emotion": EMOTION_NAMES, "sentiment": SENTIMENT_NAMES}.get(col)
    out = {}
    for corpus, g in table.groupby(by.to_numpy(), sort=True):
        counts = g[col].astype(str).value_counts()
        keys = [k for k in order if k in counts] if order else sorted(counts.index)
        out[str(corpus)] = {k: int(counts[k]) for k in keys}
    return out


def _crosstab(table: pd.DataFrame, rows: str, cols: str) -> dict:
    order = {"emotion": EMOTION_NAMES, "sentiment": SENTIMENT_NAMES}
    t = pd.crosstab(table[rows].astype(str), table[cols].astype(str))
    if rows in order:
        t = t.reindex([r for r in order[rows] if r in t.index])
    return {"rows": list(t.index), "cols": list(t.columns), "values": t.to_numpy().astype(int).tolist()}


def explore_data(table: pd.DataFrame, bin_seconds: float = 0.25) -> dict:
    """What the app's Explore page draws, as plain JSON-ready data: counts by emotion, intensity,
    gender and sentiment per corpus, the cross-tabs of the reduced sentiment, and durations."""
    corpus = table["corpus"].astype(str) if "corpus" in table else pd.Series("ravdess", index=table.index)
    edges = np.arange(0, float(np.ceil(table["duration"].max() / bin_seconds) + 1) * bin_seconds, bin_seconds)
    durations = {str(c): np.histogram(g["duration"], bins=edges)[0].astype(int).tolist()
                 for c, g in table.groupby(corpus.to_numpy(), sort=True)}
    return {
        "corpora": sorted(corpus.unique().tolist()),
        "clips": int(len(table)), "speakers": int(table.groupby([corpus, table["actor"]]).ngroups),
        "per_corpus": {str(c): {"clips": int(len(g)), "speakers": int(g["actor"].nunique())}
                       for c, g in table.groupby(corpus.to_numpy(), sort=True)},
        "counts": {c: _counts(table, c, corpus) for c in ("emotion", "intensity", "gender", "sentiment")},
        "crosstabs": {"sentiment x gender": _crosstab(table, "sentiment", "gender"),
                      "sentiment x intensity": _crosstab(table, "sentiment", "intensity"),
                      "emotion x gender": _crosstab(table, "emotion", "gender")},
        "durations": {"edges": [round(float(e), 3) for e in edges], "counts": durations},
    }
