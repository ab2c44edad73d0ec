"""Download, verification and extraction against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from speechemo.data import download
from speechemo.data.download import DownloadError


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def archive(tiny_corpus) -> bytes:
    files = sorted(tiny_corpus.glob("Actor_*/*.wav"))[:6]
    return _zip_bytes({f"{p.parent.name}/{p.name}": p.read_bytes() for p in files})


class _Server:
    """Serves ``payload`` at /corpus.zip; ``drops`` first requests are cut half-way."""

    def __init__(self, payload: bytes, drops: int = 0):
        self.payload, self.drops, self.hits = payload, drops, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.payload)))
                self.end_headers()
                if server.drops > 0:
                    server.drops -= 1
                    self.wfile.write(server.payload[: len(server.payload) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(server.payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/corpus.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(payload, drops=0):
        servers.append(_Server(payload, drops))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_full_download_extract_and_idempotent(tmp_path, serve, archive):
    srv = serve(archive)
    md5 = hashlib.md5(archive).hexdigest()
    info = download.acquire("ravdess", srv.url, tmp_path, md5=md5, progress=False)
    assert info.kind == "ravdess"
    assert len(list(Path(info.root).glob("Actor_*/*.wav"))) == 6
    hits = srv.hits
    again = download.acquire("ravdess", srv.url, tmp_path, md5=md5, progress=False)
    assert again.root == info.root and srv.hits == hits  # re-verified, not re-fetched


def test_dropped_connection_is_retried(tmp_path, serve, archive):
    srv = serve(archive, drops=1)
    md5 = hashlib.md5(archive).hexdigest()
    path = download.fetch(srv.url, tmp_path, md5, retries=2, progress=False)
    assert path.read_bytes() == archive and srv.hits == 2


def test_connection_that_keeps_dropping_fails_clearly(tmp_path, serve, archive):
    srv = serve(archive, drops=10)
    with pytest.raises(DownloadError, match="could not download"):
        download.fetch(srv.url, tmp_path, hashlib.md5(archive).hexdigest(), retries=1, progress=False)
    assert not any(tmp_path.glob("*.zip"))


def test_wrong_md5_extracts_nothing(tmp_path, serve, archive):
    srv = serve(archive)
    with pytest.raises(DownloadError, match="md5"):
        download.acquire("ravdess", srv.url, tmp_path, md5="0" * 32, progress=False)
    assert not (tmp_path / "raw" / "ravdess").exists()
    assert not list((tmp_path / "raw").glob("*.zip"))


@pytest.mark.parametrize("evil", ["../escape.wav", "/abs/escape.wav", "Actor_01/../../up.wav"])
def test_member_escaping_target_is_refused(tmp_path, evil):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_zip_bytes({"Actor_01/03-01-01-01-01-01-01.wav": b"x", evil: b"y"}))
    with pytest.raises(DownloadError, match="outside the target"):
        download.extract(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape.wav").exists() and not (tmp_path.parent / "up.wav").exists()
    assert not list(tmp_path.glob(".out-*"))  # no half-extracted temp folder left


def test_local_zip_wrong_md5_and_local_folder(tmp_path, archive, tiny_corpus):
    z = tmp_path / "local.zip"
    z.write_bytes(archive)
    with pytest.raises(DownloadError, match="expected"):
        download.acquire("ravdess", str(z), tmp_path / "d", md5="f" * 32, progress=False)
    info = download.acquire("ravdess", str(z), tmp_path / "d", md5=None, progress=False)
    assert len(list(Path(info.root).glob("Actor_*/*.wav"))) == 6
    folder = download.acquire("auto", str(tiny_corpus), tmp_path / "e", progress=False)
    assert folder.kind == "ravdess" and Path(folder.root) == tiny_corpus.resolve()


def test_auto_falls_back_to_synthetic_with_a_reason(tmp_path, serve):
    srv = serve(b"not a zip")
    info = download.acquire("auto", srv.url.replace("corpus", "missing"), tmp_path, md5="0" * 32,
                            synthetic_actors=1, progress=False)
    assert info.kind == "synthetic" and "could not be obtained" in info.note
    assert len(list(Path(info.root).glob("Actor_*/*.wav"))) == 60


def test_wrong_layout_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DownloadError, match="no Actor_XX folders"):
        download.acquire("ravdess", str(tmp_path / "empty"), tmp_path, progress=False)
