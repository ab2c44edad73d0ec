"""The workbook's label vocabulary and task mappings (the lowest layer: imports nothing of the package).

Every corpus reader maps its labels into these names; every model outputs its classes in the order
of ``TASK_CLASSES``. Sentiment is derived from emotion (``SENTIMENT_OF``), gender x emotion from
both.
"""
from __future__ import annotations

import numpy as np

EMOTION_NAMES: list[str] = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
SENTIMENT_OF: dict[str, str] = {
    "neutral": "neutral", "calm": "neutral",
    "happy": "positive", "surprised": "positive",
    "sad": "negative", "angry": "negative", "fearful": "negative", "disgust": "negative",
}
SENTIMENT_NAMES: list[str] = ["neutral", "positive", "negative"]
GENDER_NAMES: list[str] = ["female", "male"]
GENDER_EMOTION_NAMES: list[str] = [f"{g}_{e}" for g in GENDER_NAMES for e in EMOTION_NAMES]


class CorpusNameError(ValueError):
    """A file name that does not follow its corpus's naming scheme, so its labels cannot be read
    from it (raised by every corpus reader: RAVDESS, CREMA-D, EmoDB, TESS, SAVEE)."""


#: Classes of every task, in a fixed order (the order of the model outputs).
TASK_CLASSES: dict[str, list[str]] = {
    "emotion": EMOTION_NAMES,
    "gender": GENDER_NAMES,
    "sentiment": SENTIMENT_NAMES,
    "gender_emotion": GENDER_EMOTION_NAMES,
}


def task_label(task: str, emotion: str, gender: str) -> str:
    """The class name of an utterance for a task (see ``TASK_CLASSES``)."""
    if task == "emotion":
        return emotion
    if task == "gender":
        return gender
    if task == "sentiment":
        return SENTIMENT_OF[emotion]
    if task == "gender_emotion":
        return f"{gender}_{emotion}"
    raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASK_CLASSES)}")


def sentiment_from_emotion(p_emotion: np.ndarray, emotions: list[str]) -> np.ndarray:
    """Sentiment probabilities as sums of emotion probabilities (neutral, positive, negative)."""
    out = np.zeros((len(p_emotion), len(SENTIMENT_NAMES)), np.float32)
    for j, e in enumerate(emotions):
        out[:, SENTIMENT_NAMES.index(SENTIMENT_OF[e])] += p_emotion[:, j]
    return out


def gender_emotion_from_heads(p_gender: np.ndarray, p_emotion: np.ndarray) -> np.ndarray:
    """Gender x emotion probabilities p(g) * p(e), ordered as ``GENDER_EMOTION_NAMES``."""
    return (p_gender[:, :, None] * p_emotion[:, None, :]).reshape(len(p_gender), -1)
