import pytest

from speechemo.foundations.labels import EMOTION_NAMES, TASK_CLASSES, CorpusNameError, task_label
from speechemo.data.ravdess import (ALL_ACTORS, EMOBOX_FOLDS, EMOTIONS, actor_utterances,
    format_name, parse_name)


def test_ravdess_codes_follow_the_workbook_emotion_order():
    assert [EMOTIONS[k] for k in sorted(EMOTIONS)] == EMOTION_NAMES


def test_round_trip_every_ravdess_name():
    names = [format_name(u) for a in ALL_ACTORS for u in actor_utterances(a)]
    assert len(names) == len(set(names)) == 1440
    for name in names:
        assert format_name(parse_name(name)) == name
    assert format_name(parse_name(names[0].replace(".wav", ".flac")), "flac").endswith(".flac")


def test_fields_decoded():
    u = parse_name("03-01-05-02-01-02-12.wav")
    assert (u.emotion, u.intensity, u.statement, u.repetition, u.actor) == ("angry", "strong", 1, 2, 12)
    assert u.gender == "female" and u.sentiment == "negative"
    assert parse_name("03-01-08-01-02-01-07.wav").gender == "male"


@pytest.mark.parametrize("name, fragment", [
    ("03-01-05-02-01-02.wav", "not a RAVDESS name"),
    ("03-01-09-01-01-01-01.wav", "emotion 09"),
    ("03-01-01-02-01-01-01.wav", r"neutral \(01\) has no strong"),
    ("03-01-05-01-01-01-25.wav", "actor 25"),
    ("02-01-05-01-01-01-01.wav", "modality 02"),
    ("03-02-05-01-01-01-01.wav", "vocal channel 02"),
    ("03-01-05-01-03-01-01.wav", "statement 03"),
    ("03-01-05-01-01-01-01.mp4", "not a RAVDESS name"),
])
def test_malformed_names_rejected_clearly(name, fragment):
    with pytest.raises(CorpusNameError, match=fragment) as err:
        parse_name(name)
    assert name in str(err.value)


def test_folds_disjoint_and_cover_all_actors():
    actors = [a for f in EMOBOX_FOLDS.values() for a in f]
    assert sorted(actors) == list(ALL_ACTORS)
    assert all(len(f) == 4 for f in EMOBOX_FOLDS.values())


def test_task_labels():
    assert task_label("sentiment", "calm", "male") == "neutral"
    assert task_label("sentiment", "surprised", "male") == "positive"
    assert task_label("gender_emotion", "sad", "female") == "female_sad"
    assert len(TASK_CLASSES["gender_emotion"]) == 16
    with pytest.raises(ValueError, match="unknown task"):
        task_label("age", "sad", "female")
