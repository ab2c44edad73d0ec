"""The dashboard and the ``predict`` command over an exported bundle (``make serve``).

Pages: ``/`` Predict (upload or record a clip: what the model heard, the calibrated probabilities,
how accurate it is), ``/long`` Long recordings (up to 10 minutes: a timeline of voice segments
linked to the player), ``/explore`` the training data (interactive charts), ``/results`` the
workbook's results and the model card. API: ``POST /api/predict`` (one ``file``, or several with
``same_speaker=true``; ``view=true`` adds the clip as heard), ``POST /api/segments`` (a long
recording), ``GET /api/explore``. Charts use Plotly.js served from the installed ``plotly``
package (no CDN: the pages work offline). Uploads are read from the request; nothing from the
client names a file on the server.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from speechemo.serving import views
from speechemo.data.audio import AudioError, InputError
from speechemo.serving.inference import Bundle
from speechemo.serving.segments import MAX_RECORDING_SECONDS

MAX_UPLOAD_BYTES = 128 * 1024 * 1024  # a 10-minute WAV at 48 kHz, 16-bit stereo is 115 MB
FIGURES = {"comparison_emotion.png": "Emotion UA of every model and feature set, unseen speakers",
           "confusion.png": "Confusions of the deployed emotion head (out-of-fold, unseen speakers)",
           "reliability.png": "Calibration: confidence against accuracy before and after the temperature",
           "robustness.png": "Robustness: UA of the candidates under noise, codecs, reverberation and more"}
SEGMENT_FIELDS = ("start", "end", "emotion", "emotion_confidence", "sentiment", "sentiment_confidence",
                  "gender", "gender_confidence")


def truthy(value: str | None, default: bool = False) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def plotly_js() -> Path:
    """The pinned plotly package's own copy of Plotly.js."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def segment_rows(out: dict) -> list[dict]:
    """One flat row per segment (the CSV of ``predict --segments``)."""
    rows = []
    for s in out["segments"]:
        row = {"start": s["start"], "end": s["end"]}
        for task in ("emotion", "sentiment", "gender"):
            if task in s:
                row[task], row[f"{task}_confidence"] = s[task]["label"], round(s[task]["confidence"], 4)
        rows.append(row)
    return rows


def create_app(bundle_dir: str | Path, max_bytes: int = MAX_UPLOAD_BYTES, encoder: str | None = None):
    from flask import Flask, abort, jsonify, render_template, request, send_file

    bundle = Bundle(bundle_dir, encoder=encoder)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_bytes
    app.json.sort_keys = False  # keep the classes in the models' order
    limits = {"max_mb": max_bytes // (1024 * 1024), "max_minutes": int(MAX_RECORDING_SECONDS // 60)}

    def error(status: int, message: str):
        return jsonify({"error": message}), status

    def page(template: str, **kw):
        single = {t: bundle.heads[n["single"]] for t, n in bundle.spec["tasks"].items() if "single" in n}
        return render_template(template, dataset=bundle.dataset, synthetic=bundle.synthetic,
                               trained_on=bundle.trained_on, entries=single, min_clips=bundle.min_clips,
                               encoder=bundle.encoder_variant, path=request.path, **limits, **kw)

    @app.errorhandler(413)
    def too_large(_):
        return error(413, f"the upload is over the {limits['max_mb']} MB limit: recordings of up to "
                          f"{limits['max_minutes']} minutes are accepted; convert a larger file to FLAC or MP3, or cut it")

    @app.get("/")
    def index():
        return page("index.html")

    @app.get("/long")
    def long_page():
        return page("long.html")

    @app.get("/explore")
    def explore_page():
        return page("explore.html", has_data=(bundle.folder / "explore.json").exists())

    @app.get("/results")
    def results():
        import pandas as pd

        path = bundle.folder / "summary.csv"
        table = pd.read_csv(path) if path.exists() else pd.DataFrame()
        best = views.best_results(table)
        full = table.drop(columns=[c for c in ("params", "commit", "created", "run") if c in table], errors="ignore")
        figures = [(f, FIGURES[f]) for f in FIGURES if (bundle.folder / "figures" / f).exists()]
        return page("results.html", figures=figures,
                    best=best.to_html(index=False, classes="results", border=0) if len(best) else "",
                    full=full.to_html(index=False, classes="results full", border=0) if len(full) else "")

    @app.get("/card")
    def model_card():
        return page("card.html", card=(bundle.folder / "MODEL_CARD.md").read_text())

    @app.get("/figures/<int:k>")
    def figure(k: int):
        figures = [f for f in FIGURES if (bundle.folder / "figures" / f).exists()]
        if not 0 <= k < len(figures):
            abort(404)
        return send_file(bundle.folder / "figures" / figures[k], mimetype="image/png")

    @app.get("/vendor/plotly.min.js")
    def plotly():
        return send_file(plotly_js(), mimetype="text/javascript", max_age=86400)

    @app.get("/api/explore")
    def api_explore():
        path = bundle.folder / "explore.json"
        if not path.exists():
            return error(404, "this bundle has no explore.json: export it again with notebook 07 (make all)")
        return app.response_class(path.read_text(), mimetype="application/json")

    @app.get("/examples/<name>")
    def example(name: str):
        path = bundle.folder / "explore.json"
        known = {Path(e["file"]).name for e in json.loads(path.read_text()).get("examples", [])} if path.exists() else set()
        if name not in known:
            abort(404)
        return send_file(bundle.folder / "examples" / name, mimetype="audio/flac")

    @app.post("/api/predict")
    def api_predict():
        uploads = request.files.getlist("file")
        if not uploads:
            return error(400, "no file: send the audio as multipart field 'file' (several with same_speaker=true)")
        same = truthy(request.form.get("same_speaker"))
        if len(uploads) == 1 and not same:
            data = uploads[0].read()
            if not data:
                return error(400, f"{uploads[0].filename or 'upload'}: empty file (0 bytes)")
            try:
                return jsonify(bundle.predict_audio(data, name=Path(uploads[0].filename or "upload").name,
                                                    view=truthy(request.form.get("view"))))
            except InputError as err:
                return error(422, str(err))
            except AudioError as err:
                return error(415, str(err))
        clips = [(Path(u.filename or f"upload {i + 1}").name, u.read()) for i, u in enumerate(uploads)]
        out = bundle.predict_clips(clips, same_speaker=same)
        if not out["clips_used"]:
            return jsonify({**out, "error": "no usable clip: " + "; ".join(c["error"] for c in out["clips"])}), 422
        return jsonify(out)

    @app.post("/api/segments")
    def api_segments():
        upload = request.files.get("file")
        if upload is None:
            return error(400, "no file: send the recording as multipart field 'file'")
        name = Path(upload.filename or "recording").name
        try:
            return jsonify(bundle.predict_segments(upload.stream, name=name,
                                                   same_speaker=truthy(request.form.get("same_speaker"), True)))
        except InputError as err:
            return error(422, str(err))
        except AudioError as err:
            return error(415, str(err))

    return app


def serve_cli(argv: list[str] | None = None) -> None:
    """``make serve``: the app behind waitress, a production WSGI server (not Flask's development
    server); each of its threads gets TFLite interpreters of its own."""
    from waitress import serve

    ap = argparse.ArgumentParser(description="Serve the exported bundle")
    ap.add_argument("--bundle", default="outputs/deploy")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=4, help="request threads")
    ap.add_argument("--encoder", default=None, choices=["float32", "int8"], help="default: the bundle's choice")
    a = ap.parse_args(argv)
    app = create_app(a.bundle, encoder=a.encoder)
    print(f"serving {a.bundle} on http://{a.host}:{a.port} ({a.threads} threads)", flush=True)
    serve(app, host=a.host, port=a.port, threads=a.threads, ident="speechemo", max_request_body_size=MAX_UPLOAD_BYTES)


def _print_segments(bundle: Bundle, files: list[str], fmt: str, same_speaker: bool) -> int:
    """``predict --segments``: every file's segments as JSON (one object per file) or one CSV."""
    status, writer = 0, None
    for f in files:
        try:
            out = bundle.predict_segments(f, name=f, same_speaker=same_speaker)
        except (AudioError, InputError) as err:
            print(json.dumps({"file": f, "error": str(err)}), file=sys.stderr if fmt == "csv" else sys.stdout)
            status = 1
            continue
        if fmt == "json":
            print(json.dumps(out))
            continue
        if writer is None:
            writer = csv.DictWriter(sys.stdout, fieldnames=["file", *SEGMENT_FIELDS, "mode"])
            writer.writeheader()
        for row in segment_rows(out):
            writer.writerow({"file": f, **row, "mode": out["mode"]})
    return status


def predict_cli(argv: list[str] | None = None) -> None:
    """``predict file.wav ...``: one JSON object per file on stdout; errors name the file.
    ``--same-speaker``: the files are clips of one voice; one JSON object for all of them,
    calibrated to that voice when there are enough clips. ``--segments``: each file is a long
    recording (up to 10 minutes), answered per voice segment (``--format json`` or ``csv``)."""
    ap = argparse.ArgumentParser(description="Predict emotion, sentiment and gender of audio files")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--bundle", default="outputs/deploy")
    ap.add_argument("--encoder", default=None, choices=["float32", "int8"], help="default: the bundle's choice")
    ap.add_argument("--same-speaker", action="store_true",
                    help="the files are clips of ONE speaker: calibrate to that voice")
    ap.add_argument("--segments", action="store_true",
                    help="long recordings: one answer per voice segment, with start and end times")
    ap.add_argument("--format", default="json", choices=["json", "csv"], help="output of --segments")
    ap.add_argument("--one-voice-per-file", default="yes", choices=["yes", "no"],
                    help="--segments: calibrate to the voice over a file's segments when there are enough")
    a = ap.parse_args(argv)
    bundle = Bundle(a.bundle, encoder=a.encoder)
    if a.segments:
        sys.exit(_print_segments(bundle, a.files, a.format, a.one_voice_per_file == "yes"))
    if a.same_speaker:
        out = bundle.predict_clips([(f, f) for f in a.files], same_speaker=True)
        print(json.dumps(out))
        sys.exit(0 if all("error" not in c for c in out["clips"]) else 1)
    status = 0
    for f in a.files:
        try:
            out = {"file": f, **bundle.predict_audio(f, name=f)}
        except (AudioError, InputError) as err:
            out, status = {"file": f, "error": str(err)}, 1
        print(json.dumps(out))
    sys.exit(status)
