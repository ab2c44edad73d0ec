"""Readers of other corpora (EmoDB, TESS, CREMA-D, SAVEE, a CSV list) on synthetic files written in
each layout: parsing, label mapping, the integrity report, restriction to shared classes."""
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.metrics import balanced_accuracy_score

from speechemo.data import corpora
from speechemo.data.synthetic import write_corpus_layout


def test_parsers_follow_the_documented_names():
    assert corpora.parse_emodb("03a01Fa.wav") == corpora.Item("03", "happy", "happy", "male")
    assert corpora.parse_emodb("08b02La.wav") == corpora.Item("08", None, "boredom", "female")
    assert corpora.parse_emodb("16a05Aa.wav").emotion == "fearful"
    assert corpora.parse_tess("OAF_back_ps.wav") == corpora.Item("OAF", "surprised", "ps", "female")
    assert corpora.parse_tess("YAF_bar_fear.wav").emotion == "fearful"
    assert corpora.parse_cremad("1001_DFA_ANG_XX.wav", {"1001": "male"}) == corpora.Item("1001", "angry", "ANG", "male")
    assert corpora.parse_cremad("1091_IEO_SAD_HI.wav").gender is None
    assert corpora.parse_savee("DC_sa01.wav") == corpora.Item("DC", "sad", "sa", "male")
    assert corpora.parse_savee("su12.wav", "KL") == corpora.Item("KL", "surprised", "su", "male")
    for bad, parser in (("03a01Xa.wav", corpora.parse_emodb), ("OAF_back.wav", corpora.parse_tess),
                        ("1001_DFA_XYZ_XX.wav", corpora.parse_cremad), ("DC_z01.wav", corpora.parse_savee)):
        with pytest.raises(corpora.CorpusNameError, match=bad):
            parser(bad)


@pytest.mark.parametrize("corpus,speakers,not_shared", [
    ("emodb", 4, {"boredom": 4}), ("tess", 2, {}), ("cremad", 3, {}), ("savee", 4, {})])
def test_reader_on_a_synthetic_layout(corpus, speakers, not_shared, tmp_path):
    root = write_corpus_layout(corpus, tmp_path / corpus)
    # a well-named clip of digital silence (as CREMA-D's 1076_MTI_SAD_XX.wav): named and left out
    quiet = sorted(root.rglob("*.wav"))[-1]
    info = sf.info(str(quiet))
    sf.write(quiet, np.zeros(info.frames, np.int16), info.samplerate, subtype="PCM_16")
    table, report = corpora.read_corpus(corpus, root)
    # one corrupt audio file and one non-audio file are named, nothing else is lost
    assert len(report.unreadable) == 1 and "cannot decode" in report.unreadable[0]
    assert f"Error opening '{root}" in report.unreadable[0]  # the decoder's reason names the file on disk
    assert any("cover.jpg" in x for x in report.not_audio)
    assert len(report.silent) == 1 and report.silent[0].split(":")[0].endswith(quiet.name)
    assert "digital silence (skipped: nothing to judge): 1" in str(report) and str(quiet.resolve()) not in set(table.path)
    assert report.used == len(table) == report.n_files - 2
    assert table.speaker.nunique() == speakers
    assert report.not_shared == not_shared  # e.g. EmoDB's boredom: kept, marked, left out of scores
    assert set(table.emotion.dropna()) <= set(corpora.EMOTION_NAMES)
    assert (table.shared == table.emotion.notna()).all()
    assert len(report.stereo) == 1 and len(report.odd_rate) >= 1  # several rates, one stereo file
    assert "unreadable (skipped): 1" in str(report)
    if corpus == "cremad":
        assert dict(zip(table.speaker, table.gender)) == {"1001": "male", "1002": "female", "1003": "male"}
    if corpus == "emodb":
        assert (table.original_label == "boredom").sum() == 4 and table[~table.shared].emotion.isna().all()


def test_csv_list(tmp_path):
    root = write_corpus_layout("savee", tmp_path / "s")
    good = sorted((root / "AudioData").glob("DC_*.wav"))[1:4]
    pd.DataFrame({"path": [str(p.relative_to(tmp_path)) for p in good], "emotion": ["happy", "sad", "bored"],
                  "speaker": ["x", "x", "y"]}).to_csv(tmp_path / "list.csv", index=False)
    table, report = corpora.read_corpus("csv", tmp_path, csv=tmp_path / "list.csv")
    assert len(table) == 3 and list(table.shared) == [True, True, False] and report.not_shared == {"bored": 1}
    with pytest.raises(ValueError, match="path and emotion"):
        pd.DataFrame({"file": ["a.wav"]}).to_csv(tmp_path / "bad.csv", index=False)
        corpora.read_corpus("csv", tmp_path, csv=tmp_path / "bad.csv")


def test_restriction_to_shared_classes_and_metrics():
    classes = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    rng = np.random.default_rng(0)
    p = rng.random((200, 8))
    shared = ["neutral", "happy", "sad", "angry"]
    pred = corpora.restrict(p, classes, shared)
    assert set(pred) <= set(shared)
    idx = [classes.index(c) for c in shared]
    assert (pred == np.array(shared)[p[:, idx].argmax(1)]).all()
    truth = np.array(shared)[rng.integers(0, 4, 200)]
    from speechemo.protocol import evaluation as ev
    assert np.isclose(ev.scores(truth, pred, shared)["ua"], balanced_accuracy_score(truth, pred))


def test_cremad_as_distributed_and_without_its_demographics(tmp_path):
    """CREMA-D given as its repository is laid out (AudioWAV/ beside AudioMP3/ and the demographics CSV):
    the WAVs alone are read, genders from the CSV beside them; without the CSV, from the copy the
    workbook ships (where actor 1003 is female, unlike the synthetic layout's CSV)."""
    root = write_corpus_layout("cremad", tmp_path / "CREMA-D")
    (root / "AudioMP3").mkdir()
    (root / "AudioMP3" / "1001_DFA_ANG_XX.mp3").write_bytes(b"ID3 the same clip as MP3")
    table, report = corpora.read_corpus("cremad", root)
    assert not any("AudioMP3" in x for x in report.unreadable + report.not_audio + report.misnamed)
    assert len(report.unreadable) == 1 and report.used == len(table) == report.n_files - 1
    assert dict(zip(table.speaker, table.gender)) == {"1001": "male", "1002": "female", "1003": "male"}
    (root / "VideoDemographics.csv").unlink()
    table, _ = corpora.read_corpus("cremad", root / "AudioWAV")
    assert dict(zip(table.speaker, table.gender)) == {"1001": "male", "1002": "female", "1003": "female"}
