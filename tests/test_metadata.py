import shutil

import soundfile as sf

from speechemo.data.metadata import COLUMNS, build_metadata


def test_table_on_synthetic(tiny_corpus):
    table, report = build_metadata(tiny_corpus, expected_actors=[1, 4], progress=False)
    assert list(table.columns) == COLUMNS
    assert len(table) == 120 and report.complete
    assert table.groupby("actor").size().eq(60).all()
    assert set(table.gender) == {"male", "female"}
    assert table.loc[table.emotion == "neutral", "intensity"].eq("normal").all()
    assert table.sample_rate.eq(48_000).all()
    assert set(table.sentiment) == {"neutral", "positive", "negative"}


def test_table_on_flac_folder_and_problems_named(tmp_path, tiny_corpus):
    root = tmp_path / "flac"
    for p in sorted(tiny_corpus.glob("Actor_01/*.wav"))[:10]:
        y, sr = sf.read(p)
        (root / "Actor_01").mkdir(parents=True, exist_ok=True)
        sf.write(root / "Actor_01" / p.with_suffix(".flac").name, y[::3], sr // 3)
    (root / "Actor_01" / "03-01-09-01-01-01-01.flac").write_bytes(b"x")      # misnamed
    (root / "Actor_01" / "03-01-02-02-02-02-01.flac").write_bytes(b"RIFF0000junk")  # unreadable
    shutil.copy(root / "Actor_01" / "03-01-01-01-01-01-01.flac", root / "Actor_01" / "03-01-01-01-01-02-04.flac")
    table, report = build_metadata(root, expected_actors=[1], progress=False)
    assert len(table) == 10 and table.sample_rate.eq(16_000).all()
    assert report.n_files == 13
    assert any("03-01-09-01-01-01-01" in m and "emotion 09" in m for m in report.misnamed)
    assert any("stored in Actor_01" in m for m in report.misnamed)
    assert any("03-01-02-02-02-02-01" in u for u in report.unreadable)
    assert len(report.missing) == 50 and not report.complete
    text = str(report)
    assert "misnamed" in text and "03-01-02-02-02-02-01" in text


def test_stereo_reported(tmp_path, tiny_corpus):
    root = tmp_path / "st" / "Actor_04"
    root.mkdir(parents=True)
    src = sorted(tiny_corpus.glob("Actor_04/*.wav"))[0]
    y, sr = sf.read(src)
    sf.write(root / src.name, y.reshape(-1, 1).repeat(2, axis=1), sr)
    table, report = build_metadata(root.parent, expected_actors=[4], progress=False)
    assert report.stereo == [f"Actor_04/{src.name}"]
    assert table.channels.iloc[0] == 2
