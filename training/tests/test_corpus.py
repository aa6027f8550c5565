"""Corpus fetch against a local HTTP server in the npm and PyPI URL layouts."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engram_training.corpus import (PackageSpec, RepoRecord, assign_splits, count_tokens, fetch_corpus,
                                    iter_repo_files, load_manifest)


def _tarball(top: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


NPM_TGZ = _tarball("package", {
    "package.json": '{"name":"tiny"}',
    "lib/index.js": "function add(a, b = 2) { return a + b; }\nmodule.exports = { add };\n",
    "lib/index.min.js": "x" * 5000,
    "index.d.ts": "export declare function add(a: number, b?: number): number;\n",
})
PYPI_TGZ = _tarball("tinypy-1.0", {
    "PKG-INFO": "Metadata-Version: 2.1\nName: tinypy\nLicense: MIT\n",
    "tinypy/__init__.py": "LIMIT = 3\n\ndef f(x=1):\n    return x\n",
    "tinypy/_speed.c": "int f(int x) { return x; }\n",
    "README.md": "# tinypy\n",
})


class _Registry(BaseHTTPRequestHandler):
    corrupt = False

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        routes: dict[str, bytes] = {
            "/tiny/1.0.0": json.dumps({"name": "tiny", "version": "1.0.0", "license": "MIT", "dist": {
                "tarball": f"{base}/tiny/-/tiny-1.0.0.tgz",
                "integrity": "sha512-" + base64.b64encode(hashlib.sha512(NPM_TGZ).digest()).decode()}}).encode(),
            "/tiny/-/tiny-1.0.0.tgz": NPM_TGZ if not _Registry.corrupt else NPM_TGZ[:-3] + b"xyz",
            "/pypi/tinypy/json": json.dumps({"info": {"license": "latest-license"}, "releases": {"1.0": [
                {"packagetype": "sdist", "url": "../../packages/tinypy-1.0.tar.gz",
                 "digests": {"sha256": hashlib.sha256(PYPI_TGZ).hexdigest()}}]}}).encode(),
            "/packages/tinypy-1.0.tar.gz": PYPI_TGZ,
        }
        body = routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"not found")


@pytest.fixture()
def registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    _Registry.corrupt = False


def test_fetch_writes_sources_manifest_and_verified_sha(tmp_path: Path, registry: str) -> None:
    specs = [PackageSpec("npm", "tiny", "1.0.0"), PackageSpec("pypi", "tinypy", "1.0"),
             PackageSpec("npm", "missing", "9.9.9")]
    manifest = fetch_corpus(tmp_path, specs, npm_registry=registry, pypi_base=registry, log=lambda m: None)
    repos = {r["name"]: r for r in manifest["repos"]}
    assert set(repos) == {"tiny", "tinypy"}
    assert [f["id"] for f in manifest["failed"]] == ["npm__missing@9.9.9"]
    assert repos["tiny"]["sha256"] == hashlib.sha256(NPM_TGZ).hexdigest()
    assert repos["tinypy"]["license"] == "MIT"  # from the sdist's PKG-INFO, not the JSON API
    # Only source files, without the top folder; minified and declaration files skipped.
    files = {p: lang for p, lang, _ in iter_repo_files(tmp_path, "npm__tiny@1.0.0")}
    assert files == {"lib/index.js": "javascript"}
    py = {p: lang for p, lang, _ in iter_repo_files(tmp_path, "pypi__tinypy@1.0")}
    assert py == {"tinypy/__init__.py": "python", "tinypy/_speed.c": "c"}
    assert repos["tinypy"]["languages"]["c"] == count_tokens("int f(int x) { return x; }\n")
    assert [r.id for r in load_manifest(tmp_path)] == ["npm__tiny@1.0.0", "pypi__tinypy@1.0"]


def test_fetch_rejects_archive_whose_digest_differs(tmp_path: Path, registry: str) -> None:
    _Registry.corrupt = True
    manifest = fetch_corpus(tmp_path, [PackageSpec("npm", "tiny", "1.0.0")], npm_registry=registry,
                            pypi_base=registry, log=lambda m: None)
    assert manifest["repos"] == []
    assert "sha512 mismatch" in manifest["failed"][0]["error"]


def test_splits_are_by_repository_deterministic_and_cover_each_language() -> None:
    recs = [RepoRecord(id=f"npm__p{i}@1", registry="npm", name=f"p{i}", version="1", license="MIT",
                       archive_url="", sha256="", bytes=0, main_language="javascript" if i % 2 else "python")
            for i in range(20)]
    assign_splits(recs)
    first = {r.id: r.split for r in recs}
    assign_splits(list(reversed(recs)))
    assert {r.id: r.split for r in recs} == first
    for lang in ("javascript", "python"):
        assert {r.split for r in recs if r.main_language == lang} == {"train", "validation", "test"}
