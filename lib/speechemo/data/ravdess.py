"""RAVDESS naming scheme (codes into the workbook's labels) and the EmoBox speaker-independent folds."""
from __future__ import annotations

import re
from dataclasses import dataclass

from speechemo.foundations.labels import SENTIMENT_OF, CorpusNameError

EMOTIONS: dict[int, str] = {
    1: "neutral", 2: "calm", 3: "happy", 4: "sad",
    5: "angry", 6: "fearful", 7: "disgust", 8: "surprised",
}
INTENSITIES: dict[int, str] = {1: "normal", 2: "strong"}
STATEMENTS: dict[int, str] = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}

#: EmoBox RAVDESS folds (Ma et al. 2024): test actors of each of the 6 folds.
EMOBOX_FOLDS: dict[int, tuple[int, ...]] = {
    1: (1, 11, 20, 21),
    2: (4, 10, 12, 14),
    3: (8, 9, 19, 23),
    4: (3, 5, 7, 24),
    5: (2, 15, 16, 18),
    6: (6, 13, 17, 22),
}
ALL_ACTORS: tuple[int, ...] = tuple(range(1, 25))
FILES_PER_ACTOR = 60

_NAME_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.(wav|flac|WAV|FLAC)$")


@dataclass(frozen=True)
class Utterance:
    """The seven fields encoded in a RAVDESS file name."""

    modality: int
    vocal_channel: int
    emotion_code: int
    intensity_code: int
    statement: int
    repetition: int
    actor: int

    @property
    def emotion(self) -> str:
        return EMOTIONS[self.emotion_code]

    @property
    def intensity(self) -> str:
        return INTENSITIES[self.intensity_code]

    @property
    def gender(self) -> str:
        return gender_of_actor(self.actor)

    @property
    def sentiment(self) -> str:
        return SENTIMENT_OF[self.emotion]


def gender_of_actor(actor: int) -> str:
    """RAVDESS convention: odd actors are male, even actors female."""
    return "male" if actor % 2 == 1 else "female"


def parse_name(name: str) -> Utterance:
    """Parse a RAVDESS file name (basename, ``.wav`` or ``.flac``).

    Raises :class:`~speechemo.foundations.labels.CorpusNameError` naming the file and what is wrong.
    """
    m = _NAME_RE.match(name)
    if not m:
        raise CorpusNameError(
            f"{name!r} is not a RAVDESS name: expected MM-VV-EE-II-SS-RR-AA.wav "
            "(seven two-digit fields, e.g. 03-01-05-02-01-02-12.wav)"
        )
    mod, voc, emo, inten, stmt, rep, actor = (int(g) for g in m.groups()[:7])
    problems = []
    if mod != 3:
        problems.append(f"modality {mod:02d} is not 03 (audio-only)")
    if voc != 1:
        problems.append(f"vocal channel {voc:02d} is not 01 (speech)")
    if emo not in EMOTIONS:
        problems.append(f"emotion {emo:02d} is not in 01-08")
    if inten not in INTENSITIES:
        problems.append(f"intensity {inten:02d} is not 01 or 02")
    elif emo == 1 and inten == 2:
        problems.append("neutral (01) has no strong intensity (02)")
    if stmt not in STATEMENTS:
        problems.append(f"statement {stmt:02d} is not 01 or 02")
    if rep not in (1, 2):
        problems.append(f"repetition {rep:02d} is not 01 or 02")
    if not 1 <= actor <= 24:
        problems.append(f"actor {actor:02d} is not in 01-24")
    if problems:
        raise CorpusNameError(f"{name!r}: " + "; ".join(problems))
    return Utterance(mod, voc, emo, inten, stmt, rep, actor)


def format_name(u: Utterance, ext: str = "wav") -> str:
    """Inverse of :func:`parse_name`."""
    fields = (u.modality, u.vocal_channel, u.emotion_code, u.intensity_code,
              u.statement, u.repetition, u.actor)
    return "-".join(f"{f:02d}" for f in fields) + f".{ext}"


def actor_utterances(actor: int) -> list[Utterance]:
    """The 60 utterances one actor records: 4 neutral + 8 for each other emotion."""
    out = []
    for emo in sorted(EMOTIONS):
        for inten in ((1,) if emo == 1 else (1, 2)):
            for stmt in (1, 2):
                for rep in (1, 2):
                    out.append(Utterance(3, 1, emo, inten, stmt, rep, actor))
    return out


def fold_of_actor(actor: int) -> int:
    """The EmoBox fold in which an actor is a test speaker."""
    for fold, actors in EMOBOX_FOLDS.items():
        if actor in actors:
            return fold
    raise ValueError(f"actor {actor} is in no EmoBox fold (actors are 1-24)")
