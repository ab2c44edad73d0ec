"""The web app and the ``predict`` command over an exported bundle (``make serve``).

Routes: ``GET /`` upload or record clips; ``POST /api/predict`` the same as JSON (one ``file``,
or several ``file`` fields with ``same_speaker=true`` to calibrate to that voice);
``GET /results`` the workbook's results table and figures shipped in the bundle.
Uploads are decoded in memory; nothing from the client names a file on the server.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .audio import AudioError
from .inference import Bundle, InputError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FIGURES = ("confusion.png", "comparison_emotion.png")


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def create_app(bundle_dir: str | Path, max_bytes: int = MAX_UPLOAD_BYTES, encoder: str | None = None):
    from flask import Flask, abort, jsonify, render_template, request, send_file

    bundle = Bundle(bundle_dir, encoder=encoder)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_bytes
    app.json.sort_keys = False  # keep the classes in the models' order

    def error(status: int, message: str):
        return jsonify({"error": message}), status

    @app.errorhandler(413)
    def too_large(_):
        return error(413, f"upload over the {max_bytes // (1024 * 1024)} MB limit")

    @app.get("/")
    def index():
        single = {t: bundle.heads[n["single"]] for t, n in bundle.spec["tasks"].items() if "single" in n}
        return render_template("index.html", dataset=bundle.dataset, synthetic=bundle.synthetic,
                               trained_on=bundle.trained_on, entries=single,
                               min_clips=bundle.min_clips, encoder=bundle.encoder_variant)

    @app.post("/api/predict")
    def api_predict():
        uploads = request.files.getlist("file")
        if not uploads:
            return error(400, "no file: send the audio as multipart field 'file' (several with same_speaker=true)")
        same = truthy(request.form.get("same_speaker"))
        if len(uploads) == 1 and not same:
            data = uploads[0].read()
            if not data:
                return error(400, "empty upload (0 bytes)")
            try:
                return jsonify(bundle.predict_audio(data, name=Path(uploads[0].filename or "upload").name))
            except InputError as err:
                return error(422, str(err))
            except AudioError as err:
                return error(415, str(err))
        clips = [(Path(u.filename or f"upload {i + 1}").name, u.read()) for i, u in enumerate(uploads)]
        out = bundle.predict_clips(clips, same_speaker=same)
        if not out["clips_used"]:
            return jsonify({**out, "error": "no usable clip: " + "; ".join(c["error"] for c in out["clips"])}), 422
        return jsonify(out)

    @app.get("/results")
    def results():
        import pandas as pd

        path = bundle.folder / "summary.csv"
        table = pd.read_csv(path) if path.exists() else pd.DataFrame()
        if len(table):
            table = table[table.protocol == "speaker_independent"]
            cols = ["dataset", "task", "features", "model", "normalisation", "ua", "ua_std", "wa", "wa_std"]
            table = table[cols].sort_values(["task", "ua"], ascending=[True, False])
            for c in ("ua", "ua_std", "wa", "wa_std"):
                table[c] = (table[c] * 100).round(1)
        figures = [f for f in FIGURES if (bundle.folder / "figures" / f).exists()]
        return render_template("results.html", dataset=bundle.dataset, synthetic=bundle.synthetic, figures=figures,
                               table=table.to_html(index=False, classes="results") if len(table) else "")

    @app.get("/figures/<int:k>")
    def figure(k: int):
        figures = [f for f in FIGURES if (bundle.folder / "figures" / f).exists()]
        if not 0 <= k < len(figures):
            abort(404)
        return send_file(bundle.folder / "figures" / figures[k], mimetype="image/png")

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
    serve(app, host=a.host, port=a.port, threads=a.threads, ident="speechemo")


def predict_cli(argv: list[str] | None = None) -> None:
    """``predict file.wav ...``: one JSON object per file on stdout; errors name the file.
    ``--same-speaker``: the files are clips of one voice; one JSON object for all of them,
    calibrated to that voice when there are enough clips."""
    ap = argparse.ArgumentParser(description="Predict emotion, sentiment and gender of audio files")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--bundle", default="outputs/deploy")
    ap.add_argument("--encoder", default=None, choices=["float32", "int8"], help="default: the bundle's choice")
    ap.add_argument("--same-speaker", action="store_true",
                    help="the files are clips of ONE speaker: calibrate to that voice")
    a = ap.parse_args(argv)
    bundle = Bundle(a.bundle, encoder=a.encoder)
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
