"""Descriptive statistics for the exploratory notebook (no plotting here)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import audio
from .labels import EMOTION_NAMES, SENTIMENT_NAMES


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


def silence_table(table: pd.DataFrame, top_db: float = audio.TRIM_TOP_DB, n_jobs: int = 2,
                  progress: bool = True) -> pd.DataFrame:
    """Leading/trailing silence and speech duration (s) per file, same threshold as the front end."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    jobs = (delayed(_silence)(p, top_db) for p in table["path"])
    rows = list(tqdm(Parallel(n_jobs=n_jobs, return_as="generator", batch_size=16)(jobs),
                     total=len(table), desc="measuring silence", disable=not progress))
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
