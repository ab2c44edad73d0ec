"""The exported bundle, the API and the predict command, on a bundle built from the tiny corpus."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from speechemo import evaluation as ev, export, features, inference
from speechemo.ravdess import TASK_CLASSES


def _row(model: str, feats: str, ua: float) -> pd.Series:
    return pd.Series({"model": model, "features": feats, "normalisation": "none", "ua": ua,
                      "ua_std": 0.05, "wa": ua, "wa_std": 0.05, "macro_f1": ua})


@pytest.fixture(scope="module")
def bundle_dir(tiny_table, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "deploy"
    ext = features.extract(tiny_table, ["functionals"], tmp_path_factory.mktemp("fc"), n_jobs=1, progress=False)
    meta = tiny_table.set_index("file").loc[ext.files]
    X = ext.tables["functionals"].to_numpy()
    models, entries = {}, {}
    for task in ("emotion", "gender"):
        y = ev.labels_for(meta, task)
        models[task], scaler = export.train_logreg(X, y, TASK_CLASSES[task])
        entries[task] = export.entry(task, _row("logreg", "functionals", 0.5), _row("xgboost", "functionals", 0.6),
                                     "functionals", scaler, list(ext.tables["functionals"].columns), "synthetic")
    card = export.model_card(entries, "synthetic", {"parity": {"n": 0, "max_abs_diff": 0.0, "argmax_identical": True},
                                                    "latency": {}}, len(meta), 2)
    export.write_bundle(out, entries, models, card, {}, ["flask"])
    # what the notebook-side Keras model says for three files, from the cached features
    sc = entries["emotion"]["scaler"]
    ref = {}
    for f in ext.files[:3]:
        z = (ext.tables["functionals"].loc[[f]].to_numpy() - np.array(sc["mean"])) / np.array(sc["scale"])
        ref[f] = models["emotion"](z.astype(np.float32), training=False).numpy()[0].tolist()
    out.joinpath("reference.json").write_text(json.dumps(ref))
    return out


@pytest.fixture(scope="module")
def client(bundle_dir):
    from speechemo.app import create_app
    app = create_app(bundle_dir, max_bytes=2 * 1024 * 1024)
    return app.test_client()


def _wav(y, sr, fmt="WAV", subtype="PCM_16"):
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, **({"subtype": subtype} if subtype else {}))
    return buf.getvalue()


def _post(client, data: bytes, name="clip.wav"):
    return client.post("/api/predict", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_bundle_round_trip(bundle_dir, tiny_table):
    ref = json.loads((bundle_dir / "reference.json").read_text())
    for backend in ("tflite", "keras"):
        b = inference.Bundle(bundle_dir, backend=backend)
        for file, probs in ref.items():
            path = tiny_table.set_index("file").loc[file, "path"]
            out = b.predict_audio(path)
            got = [out["emotion"]["probabilities"][c] for c in TASK_CLASSES["emotion"]]
            np.testing.assert_allclose(got, probs, atol=1e-4)
            assert out["emotion"]["label"] == TASK_CLASSES["emotion"][int(np.argmax(probs))]
            assert out["sentiment"]["label"] in ("neutral", "positive", "negative")
            assert abs(sum(out["sentiment"]["probabilities"].values()) - 1) < 1e-4
    spec = json.loads((bundle_dir / "preprocessing.json").read_text())
    assert spec["models"]["emotion"]["labels"] == TASK_CLASSES["emotion"]
    assert (bundle_dir / "MODEL_CARD.md").read_text().startswith("# SYNTHETIC-DATA MODEL")


def test_api_valid_formats(client, tiny_table):
    path = tiny_table.path.iloc[5]
    y, sr = sf.read(path)
    for data, name in [(open(path, "rb").read(), "a.wav"),
                       (_wav(y, sr, "MP3", None), "a.mp3"),
                       (_wav(np.stack([y, 0.9 * y], 1), 48_000), "stereo48k.wav"),
                       (_wav(y[::3], 16_000, "FLAC"), "a.flac")]:
        r = _post(client, data, name)
        assert r.status_code == 200, (name, r.get_json())
        j = r.get_json()
        assert j["emotion"]["label"] in TASK_CLASSES["emotion"] and j["gender"]["label"] in ("female", "male")
        assert j["dataset"] == "synthetic" and 0 < j["emotion"]["confidence"] <= 1


@pytest.mark.parametrize("case, status, fragment", [
    ("missing", 400, "no file"), ("empty", 400, "empty"), ("text", 415, "cannot decode"),
    ("corrupt", 415, "cannot decode"), ("short", 422, "at least 0.3"), ("long", 422, "at most 30"),
    ("huge", 413, "limit"), ("silent", 422, "silent"),
])
def test_api_bad_inputs_get_clear_4xx_and_server_keeps_serving(client, tiny_table, case, status, fragment):
    sr = 16_000
    good = open(tiny_table.path.iloc[0], "rb").read()
    payload = {"empty": b"", "text": b"hello, this is not audio at all" * 10,
               "corrupt": good[:12] + b"\xff" * 28 + good[40:], "short": _wav(np.random.default_rng(0).normal(0, .1, int(.2 * sr)), sr),
               "long": _wav(np.random.default_rng(0).normal(0, .1, 31 * sr), sr),
               "huge": b"\x00" * (3 * 1024 * 1024), "silent": _wav(np.zeros(sr), sr)}
    if case == "missing":
        r = client.post("/api/predict", data={}, content_type="multipart/form-data")
    else:
        r = _post(client, payload[case])
    assert r.status_code == status, r.data[:200]
    assert fragment in r.get_json()["error"]
    assert _post(client, good).status_code == 200  # still serving


def test_pages(client):
    r = client.get("/")
    assert r.status_code == 200 and b"SYNTHETIC" in r.data and b'id="file"' in r.data
    r = client.get("/results")
    assert r.status_code == 200
    assert client.get("/figures/7").status_code == 404


def test_predict_cli(bundle_dir, tiny_table, capsys, tmp_path):
    from speechemo.app import predict_cli
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    with pytest.raises(SystemExit) as ex:
        predict_cli([tiny_table.path.iloc[0], str(bad), "--bundle", str(bundle_dir)])
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert ex.value.code == 1 and len(lines) == 2
    assert lines[0]["emotion"]["label"] in TASK_CLASSES["emotion"]
    assert "bad.wav" in lines[1]["error"]


def test_logreg_to_keras_matches_sklearn():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 5))
    for k in (2, 3):
        y = np.arange(90) % k
        lr = LogisticRegression(max_iter=500).fit(X, y)
        m = export.logreg_to_keras(lr.coef_, lr.intercept_, k)
        np.testing.assert_allclose(m(X.astype(np.float32)).numpy(), lr.predict_proba(X), atol=1e-5)


def test_choose_skips_sets_the_bundle_cannot_compute():
    rows = [{"dataset": "ravdess", "task": "emotion", "features": f, "model": m, "protocol": "speaker_independent",
             "normalisation": n, "ua": ua, "wa": ua} for f, m, n, ua in (
        ("whisper_base", "logreg", "none", 0.75), ("functionals", "logreg", "speaker", 0.70),
        ("functionals", "xgboost", "none", 0.65), ("egemaps", "logreg", "none", 0.55), ("functionals", "logreg", "none", 0.50))]
    deployed, best_any = export.choose(pd.DataFrame(rows), "emotion", "ravdess")
    assert best_any.features == "whisper_base"
    assert (deployed.model, deployed.features) == ("logreg", "egemaps")  # single clip, Keras-expressible, per-clip set
