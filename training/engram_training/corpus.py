"""A corpus of real third-party source code, fetched at pinned versions from npm and PyPI.

Each package is one "repository": its archive is downloaded, checked against the
registry's digest, and its source files are extracted to `<out>/repos/<repo id>/`
(a real folder the engine can index). `<out>/manifest.json` records name, version,
license, archive sha256, split, file and token counts. The split is by repository,
deterministic, and stratified by main language so every split sees every language.

    python -m engram_training.corpus fetch --out .data/corpus      (run in training/)
    python -m engram_training.corpus stats --corpus .data/corpus
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

NPM_REGISTRY = "https://registry.npmjs.org"
PYPI_BASE = "https://pypi.org"

# Source extensions kept, by language. Declaration files (.d.ts) are skipped: they
# repeat the JS definitions and would make every answer ambiguous.
LANG_BY_EXT: dict[str, str] = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescript",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".pyx": "cython",
}
MAX_FILE_BYTES = 300_000
# Same token rule as src/core/tokens.ts countTokens (words, numbers, single marks).
_TOKEN = re.compile(r"[^\W\d][\w]*|\d+|[^\s\w]", re.UNICODE)


def count_tokens(text: str) -> int:
    """Token count matching the engine's pre-tokenizer estimate (src/core/tokens.ts)."""
    return sum(1 for _ in _TOKEN.finditer(text))


@dataclass(frozen=True)
class PackageSpec:
    registry: str  # "npm" | "pypi"
    name: str
    version: str

    @property
    def repo_id(self) -> str:
        safe = self.name.replace("@", "").replace("/", "__")
        return f"{self.registry}__{safe}@{self.version}"


def _npm(*pairs: str) -> list[PackageSpec]:
    return [PackageSpec("npm", *p.rsplit("@", 1)) for p in pairs]


def _pypi(*pairs: str) -> list[PackageSpec]:
    return [PackageSpec("pypi", *p.split("==")) for p in pairs]


# Pinned corpus. JS and TS from npm (packages that ship their sources), Python from
# PyPI sdists, and PyPI sdists that carry C, C++ or Rust extensions.
PACKAGES: list[PackageSpec] = (
    _npm(
        "express@4.18.2", "commander@11.1.0", "yargs@17.7.2", "minimist@1.2.8",
        "semver@7.5.4", "debug@4.3.4", "acorn@8.11.2", "esprima@4.0.1", "marked@9.1.6",
        "js-yaml@4.1.0", "handlebars@4.7.8", "underscore@1.13.6", "async@3.2.5",
        "bluebird@3.7.2", "ws@8.14.2", "koa@2.14.2", "chalk@4.1.2", "uuid@9.0.1",
        "qs@6.11.2", "moment@2.29.4", "ajv@8.12.0", "preact@10.19.3",
    )
    + _npm(
        "rxjs@7.8.1", "fp-ts@2.16.1", "immer@10.0.3", "io-ts@2.2.21", "mobx@6.12.0",
        "@reduxjs/toolkit@2.0.1", "@trpc/server@10.44.1",
        "effect@2.0.0",
    )
    + _pypi(
        "requests==2.31.0", "flask==3.0.0", "click==8.1.7", "attrs==23.1.0", "idna==3.4",
        "urllib3==2.0.7", "Jinja2==3.1.2", "Werkzeug==3.0.1", "itsdangerous==2.1.2",
        "toml==0.10.2", "tomli==2.0.1", "pyparsing==3.1.1", "packaging==23.2",
        "python-dateutil==2.8.2", "tabulate==0.9.0", "docopt==0.6.2", "boltons==23.1.1",
        "more-itertools==10.1.0", "toolz==0.12.0", "marshmallow==3.20.1", "httpx==0.25.1",
        "rich==13.7.0", "pluggy==1.3.0", "six==1.16.0", "schedule==1.2.1", "cachetools==5.3.2",
    )
    + _pypi(
        "wrapt==1.16.0", "simplejson==3.19.2", "ujson==5.9.0", "msgpack==1.0.7",
        "MarkupSafe==2.1.3", "bitarray==2.9.2", "xxhash==3.4.1", "lz4==4.3.2",
        "rpds-py==0.13.2", "watchfiles==0.21.0",
    )
)


@dataclass
class RepoRecord:
    id: str
    registry: str
    name: str
    version: str
    license: str
    archive_url: str
    sha256: str
    bytes: int
    split: str = ""
    files: int = 0
    tokens: int = 0
    languages: dict[str, int] = field(default_factory=dict)  # language -> tokens
    main_language: str = ""


class FetchError(Exception):
    pass


def _get(url: str, timeout: float = 60.0, retries: int = 3) -> bytes:
    last: Exception | None = None
    for attempt in range(retries):
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "engram-training/0.1"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500:  # missing package or version: no point retrying
                raise FetchError(f"GET {url} failed: {exc}") from exc
            last = exc
        except Exception as exc:  # network errors are retried, then reported
            last = exc
            time.sleep(0.5 * (attempt + 1))
    raise FetchError(f"GET {url} failed: {last}")


def _quote_npm(name: str) -> str:
    return name.replace("/", "%2F")


def resolve_npm(spec: PackageSpec, registry: str) -> tuple[str, str, dict[str, str]]:
    """(tarball url, license, expected digests) from the registry's version document."""
    doc = json.loads(_get(f"{registry.rstrip('/')}/{_quote_npm(spec.name)}/{spec.version}"))
    dist = doc.get("dist") or {}
    url = dist.get("tarball")
    if url:
        url = urllib.parse.urljoin(f"{registry.rstrip('/')}/", url)
    else:
        raise FetchError(f"{spec.name}@{spec.version}: no dist.tarball in the registry")
    lic = doc.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    digests: dict[str, str] = {}
    if dist.get("integrity", "").startswith("sha512-"):
        digests["sha512"] = base64.b64decode(dist["integrity"][7:]).hex()
    if dist.get("shasum"):
        digests["sha1"] = dist["shasum"]
    return url, str(lic or "UNKNOWN"), digests


def resolve_pypi(spec: PackageSpec, base: str) -> tuple[str, str, dict[str, str]]:
    """(sdist url, license placeholder, expected digests) from PyPI's JSON API."""
    doc_url = f"{base.rstrip('/')}/pypi/{spec.name}/json"
    doc = json.loads(_get(doc_url))
    files = (doc.get("releases") or {}).get(spec.version) or []
    sdists = [f for f in files if f.get("packagetype") == "sdist"]
    if not sdists:
        raise FetchError(f"{spec.name}=={spec.version}: no sdist on PyPI")
    f = sdists[0]
    digests = {"sha256": f["digests"]["sha256"]} if f.get("digests", {}).get("sha256") else {}
    # The JSON API's license is the latest release's; the sdist's PKG-INFO is read later.
    # Mirrors may give the file URL relative to the JSON document.
    return urllib.parse.urljoin(doc_url, f["url"]), "", digests


def _check_digests(data: bytes, digests: dict[str, str], what: str) -> None:
    for algo, want in digests.items():
        got = hashlib.new(algo, data).hexdigest()
        if got != want:
            raise FetchError(f"{what}: {algo} mismatch (registry {want[:16]}…, got {got[:16]}…)")


def _archive_members(data: bytes, url: str) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every regular file in a .tgz/.tar.gz/.zip archive."""
    if url.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if not info.is_dir() and info.file_size <= MAX_FILE_BYTES * 4:
                    yield info.filename, zf.read(info)
        return
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for m in tf:
            if m.isfile() and m.size <= MAX_FILE_BYTES * 4:
                fh = tf.extractfile(m)
                if fh is not None:
                    yield m.name, fh.read()


def _strip_top(path: str) -> str | None:
    parts = PurePosixPath(path).parts
    if len(parts) < 2 or any(p in ("..", "") for p in parts) or path.startswith("/"):
        return None
    return "/".join(parts[1:])


def _license_from_pkg_info(text: str) -> str:
    for key in ("License-Expression:", "License:"):
        for line in text.splitlines():
            if line.startswith(key):
                value = line[len(key):].strip()
                if value and value.upper() != "UNKNOWN" and len(value) < 80:
                    return value
    classifiers = [l.split("::")[-1].strip() for l in text.splitlines()
                   if l.startswith("Classifier: License ::")]
    return classifiers[0] if classifiers else "UNKNOWN"


def is_minified(text: str) -> bool:
    lines = text.splitlines() or [""]
    longest = max(len(l) for l in lines)
    return longest > 1000 or (len(text) / len(lines) > 200)


def keep_source(path: str, data: bytes) -> str | None:
    """The file's language if it is source worth keeping, else None."""
    p = PurePosixPath(path)
    if path.endswith(".d.ts") or ".min." in p.name or len(data) > MAX_FILE_BYTES:
        return None
    if any(part in ("node_modules", ".git") for part in p.parts):
        return None
    lang = LANG_BY_EXT.get(p.suffix)
    if lang is None or b"\0" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if is_minified(text) else lang


def extract_repo(spec: PackageSpec, data: bytes, url: str, dest: Path, rec: RepoRecord) -> None:
    """Write the archive's source files under dest and fill the record's counts."""
    dest.mkdir(parents=True, exist_ok=True)
    rec.files = rec.tokens = 0
    rec.languages = {}
    kept: dict[str, tuple[str, bytes]] = {}
    for raw_path, body in _archive_members(data, url):
        rel = _strip_top(raw_path)
        if rel is None:
            continue
        if spec.registry == "pypi" and rel == "PKG-INFO" and not rec.license:
            rec.license = _license_from_pkg_info(body.decode("utf-8", "replace"))
        lang = keep_source(rel, body)
        if lang is not None and rel not in kept:
            kept[rel] = (lang, body)
    # Packages that ship their TypeScript sources also ship compiled copies (cjs,
    # esm, es5...): keep the sources only, so the corpus holds each definition once.
    if any(r.startswith("src/") and kept[r][0] == "typescript" for r in kept):
        kept = {r: v for r, v in kept.items() if r.startswith("src/") or v[0] != "javascript"}
    for rel, (lang, body) in sorted(kept.items()):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        n = count_tokens(body.decode("utf-8"))
        rec.files += 1
        rec.tokens += n
        rec.languages[lang] = rec.languages.get(lang, 0) + n
    if not rec.license:
        rec.license = "UNKNOWN"
    rec.main_language = max(rec.languages, key=lambda k: rec.languages[k]) if rec.languages else ""


def fetch_package(spec: PackageSpec, out: Path, npm_registry: str = NPM_REGISTRY,
                  pypi_base: str = PYPI_BASE) -> RepoRecord:
    """Download (or reuse a verified cached copy of) one package and extract its sources."""
    if spec.registry == "npm":
        url, lic, digests = resolve_npm(spec, npm_registry)
    elif spec.registry == "pypi":
        url, lic, digests = resolve_pypi(spec, pypi_base)
    else:
        raise FetchError(f"unknown registry {spec.registry!r}")
    archive = out / "archives" / f"{spec.repo_id}{_suffix(url)}"
    data = archive.read_bytes() if archive.exists() else b""
    try:
        if not data:
            raise FetchError("not cached")
        _check_digests(data, digests, spec.repo_id)
    except FetchError:
        data = _get(url)
        _check_digests(data, digests, spec.repo_id)
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(data)
    rec = RepoRecord(id=spec.repo_id, registry=spec.registry, name=spec.name,
                     version=spec.version, license=lic, archive_url=url,
                     sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    dest = out / "repos" / spec.repo_id
    if dest.exists():
        _rmtree(dest)
    extract_repo(spec, data, url, dest, rec)
    return rec


def _suffix(url: str) -> str:
    for s in (".tar.gz", ".tgz", ".zip", ".tar.bz2"):
        if url.endswith(s):
            return s
    return ".tar.gz"


def _rmtree(p: Path) -> None:
    import shutil
    shutil.rmtree(p)


def assign_splits(records: list[RepoRecord], val_frac: float = 0.1,
                  test_frac: float = 0.1) -> None:
    """Deterministic split by repository, stratified by main language.

    Within each language, repos are ordered by sha256 of their id; the first ones go
    to test, then validation, the rest to train. Groups of 3+ give each split one.
    """
    groups: dict[str, list[RepoRecord]] = {}
    for r in records:
        groups.setdefault(r.main_language or "none", []).append(r)
    for group in groups.values():
        group.sort(key=lambda r: hashlib.sha256(r.id.encode()).hexdigest())
        n = len(group)
        n_test = max(1, round(n * test_frac)) if n >= 3 else 0
        n_val = max(1, round(n * val_frac)) if n >= 3 else 0
        for i, r in enumerate(group):
            r.split = "test" if i < n_test else "validation" if i < n_test + n_val else "train"


def fetch_corpus(out: Path, packages: Iterable[PackageSpec] = PACKAGES,
                 npm_registry: str = NPM_REGISTRY, pypi_base: str = PYPI_BASE,
                 log: "callable[[str], None] | None" = None) -> dict:
    """Fetch every package, split by repository, write `<out>/manifest.json`; return it."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    out.mkdir(parents=True, exist_ok=True)
    records: list[RepoRecord] = []
    failed: list[dict[str, str]] = []
    specs = list(packages)
    for i, spec in enumerate(specs, 1):
        try:
            rec = fetch_package(spec, out, npm_registry, pypi_base)
        except FetchError as exc:
            failed.append({"id": spec.repo_id, "error": str(exc)})
            say(f"[{i}/{len(specs)}] {spec.repo_id}: FAILED {exc}")
            continue
        if rec.files == 0:
            failed.append({"id": spec.repo_id, "error": "no source files"})
            say(f"[{i}/{len(specs)}] {spec.repo_id}: no source files, dropped")
            continue
        records.append(rec)
        say(f"[{i}/{len(specs)}] {spec.repo_id}: {rec.files} files, {rec.tokens} tokens, "
            f"{rec.main_language}, {rec.license}")
    assign_splits(records)
    manifest = {"version": 1, "repos": [asdict(r) for r in records], "failed": failed}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def load_manifest(corpus: Path) -> list[RepoRecord]:
    path = corpus / "manifest.json"
    if not path.exists():
        raise SystemExit(f"no corpus at {corpus} (run: python -m engram_training.corpus fetch --out {corpus})")
    return [RepoRecord(**r) for r in json.loads(path.read_text())["repos"]]


def iter_repo_files(corpus: Path, repo_id: str) -> Iterator[tuple[str, str, str]]:
    """(repo-relative path, language, text) of each source file, in path order."""
    root = corpus / "repos" / repo_id
    for p in sorted(root.rglob("*")):
        if p.is_file():
            lang = LANG_BY_EXT.get(p.suffix)
            if lang:
                yield p.relative_to(root).as_posix(), lang, p.read_text("utf-8")


def stats(records: list[RepoRecord]) -> dict:
    """Repos, files, tokens per split, and tokens per language per split."""
    out: dict[str, dict] = {}
    for r in records:
        s = out.setdefault(r.split, {"repos": 0, "files": 0, "tokens": 0, "languages": {}})
        s["repos"] += 1
        s["files"] += r.files
        s["tokens"] += r.tokens
        for lang, n in r.languages.items():
            s["languages"][lang] = s["languages"].get(lang, 0) + n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.corpus")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download the pinned packages and split them")
    f.add_argument("--out", type=Path, default=Path(".data/corpus"))
    f.add_argument("--npm-registry", default=NPM_REGISTRY)
    f.add_argument("--pypi-base", default=PYPI_BASE)
    f.add_argument("--only", nargs="*", help="repo ids or package names to fetch (default: all)")
    s = sub.add_parser("stats", help="print per-split statistics")
    s.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    args = ap.parse_args(argv)
    if args.cmd == "fetch":
        specs = [p for p in PACKAGES if not args.only or p.name in args.only or p.repo_id in args.only]
        manifest = fetch_corpus(args.out, specs, args.npm_registry, args.pypi_base)
        recs = [RepoRecord(**r) for r in manifest["repos"]]
        print(json.dumps({"stats": stats(recs), "failed": manifest["failed"]}, indent=1))
        return 1 if not recs else 0
    print(json.dumps(stats(load_manifest(args.corpus)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
