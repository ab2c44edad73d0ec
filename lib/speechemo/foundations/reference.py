"""Published figures to compare with (from the project's REFERENCE document)."""
from __future__ import annotations

import pandas as pd

#: The GenderEmotionRecognizer seed's table: 16 classes (gender x emotion), split not stated.
SEED_ACCURACY = {"logreg": 33.42, "random_forest": 76.01, "xgboost": 63.00, "lstm": 94.07}

#: Published 8-class emotion figures on RAVDESS speech (UA %, protocol in the label).
PUBLISHED_EMOTION_UA = {
    "EmoBox wav2vec2-base (6 folds)": 54.33,
    "EmoBox HuBERT-base (6 folds)": 65.43,
    "EmoBox WavLM-large (6 folds)": 72.00,
    "EmoBox Whisper-large-v3 (6 folds)": 75.32,
}


def emotion_references(task: str, dataset: str) -> dict[str, float] | None:
    """The published figures a comparison plot may draw beside ``dataset``'s results: only emotion on
    RAVDESS alone, the test set they were measured on (a union's or another corpus's UA is not
    comparable with them)."""
    return PUBLISHED_EMOTION_UA if task == "emotion" and dataset == "ravdess" else None


def largest_encoder_sentence(dataset: str) -> str:
    """The sentence that sets a run's emotion UA beside EmoBox's frozen Whisper large v3: "on these folds"
    only when the run's test set is RAVDESS alone, the one the figure was measured on."""
    ua = PUBLISHED_EMOTION_UA["EmoBox Whisper-large-v3 (6 folds)"]
    lead = f"EmoBox's frozen Whisper large v3 (30 times larger) reaches UA {ua:.1f} %"
    if emotion_references("emotion", dataset) is not None:
        return f"{lead} on these folds."
    return (f"{lead} on RAVDESS's 6 EmoBox folds alone, a different test set from this run's ({dataset}): "
            "not a figure to compare with the ones above.")


def published_table() -> pd.DataFrame:
    rows = [("GenderEmotionRecognizer seed: LR / RF / XGBoost / LSTM", "split not stated, 16 classes",
             "33.42 / 76.01 / 63.00 / 94.07 % accuracy"),
            ("EmoBox, frozen wav2vec 2.0 base", "6 EmoBox folds, 8 classes", "UA 54.33, WA 55.40"),
            ("EmoBox, frozen HuBERT base", "6 EmoBox folds, 8 classes", "UA 65.43, WA 66.21"),
            ("EmoBox, frozen WavLM large", "6 EmoBox folds, 8 classes", "UA 72.00, WA 72.22"),
            ("EmoBox, frozen Whisper large v3", "6 EmoBox folds, 8 classes", "UA 75.32, WA 75.87"),
            ("Pepino et al. 2021, eGeMAPS functionals", "actors 1-20 / 23-24, 7 classes", "UA 57.0"),
            ("Pepino et al. 2021, wav2vec 2.0 + per-speaker norm.", "actors 1-20 / 23-24, 7 classes", "UA 84.3"),
            ("transformer-cnn-emotion-recognition", "random 80/10/10 split", "80.44 % accuracy")]
    return pd.DataFrame(rows, columns=["system", "protocol", "figure"])


#: EmoBox cross-corpus track (REFERENCE.md): 4 balanced classes (neutral, happy, sad, angry), chance
#: 25 %, frozen Whisper large v3 + small classifier, accuracy %; "train -> test".
EMOBOX_CROSS_CORPUS = {"SAVEE -> RAVDESS": 66.91, "IEMOCAP -> RAVDESS": 48.12, "MELD -> RAVDESS": 40.68,
                       "RAVDESS -> SAVEE": 49.63, "RAVDESS -> MELD": 47.00, "RAVDESS -> IEMOCAP": 38.24,
                       "SAVEE -> RAVDESS (WavLM large)": 63.35}

CROSS_CORPUS_NOTE = (
    "*For orientation (different protocol: EmoBox's cross-corpus track, 4 balanced classes, chance 25 %, "
    "frozen Whisper **large** v3):* "
    + "; ".join(f"{k} {v:.1f} %" for k, v in EMOBOX_CROSS_CORPUS.items())
    + ". Within RAVDESS the same encoder family reaches 75 % UA on 8 classes: a model moved to another corpus "
    "typically keeps only part of that, and the loss above is the measure of it.")
