"""Replay clips: one file per stride holding its frames as JPEGs and an index, in a folder per session.

A clip lives at ``<snapshot folder>/<session>/clips/<random>.clip``, inside the session's snapshot
folder, so deleting the session (records.store) removes its clips with its snapshots. It is written
durably like a snapshot (temp file, fsync, rename, fsync of the folder: hipcam.atomic) before the
``stride_clips`` row naming it is committed; a file no row names (a crash between the two) is
tidied by ``remove_unreferenced``.

File layout: ``HIPCLIP1``, the index's length (4 bytes, little endian), the index as JSON
(``{"frames": [[number, t_s, offset, length], ...], "width": W, "height": H}``, offsets counted from
the end of the index), then the JPEGs back to back. One frame is read with two small reads and a seek.
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hipcam.atomic import atomic_writer, fsync_dir

log = logging.getLogger(__name__)

CLIP_DIR = "clips"
SUFFIX = ".clip"
MAGIC = b"HIPCLIP1"
MAX_INDEX_BYTES = 1 << 20  # a clip of thousands of frames stays far below this
MAX_FRAME_BYTES = 4 << 20
_HEAD = struct.Struct("<8sI")


@dataclass(frozen=True)
class ClipFrame:
    number: int  # the gait tracker's frame number (the stride's landmarks are keyed the same)
    t_s: float
    jpeg: bytes


@dataclass(frozen=True)
class ClipIndex:
    numbers: tuple[int, ...]
    times: tuple[float, ...]
    spans: tuple[tuple[int, int], ...]  # (offset from the data start, length) per frame
    width: int
    height: int
    data_start: int


def encode(frames: Sequence[ClipFrame], width: int, height: int) -> bytes:
    """The clip file's bytes."""
    spans, offset = [], 0
    for f in frames:
        spans.append([f.number, round(f.t_s, 4), offset, len(f.jpeg)])
        offset += len(f.jpeg)
    index = json.dumps({"frames": spans, "width": width, "height": height}, separators=(",", ":")).encode()
    return b"".join([_HEAD.pack(MAGIC, len(index)), index, *(f.jpeg for f in frames)])


def read_index(path: Path) -> ClipIndex | None:
    """The clip's index, None if the file is missing or not a clip."""
    try:
        with path.open("rb") as fh:
            magic, size = _HEAD.unpack(fh.read(_HEAD.size))
            if magic != MAGIC or size > MAX_INDEX_BYTES:
                return None
            data = json.loads(fh.read(size))
        rows = data["frames"]
        return ClipIndex(
            numbers=tuple(int(r[0]) for r in rows),
            times=tuple(float(r[1]) for r in rows),
            spans=tuple((int(r[2]), int(r[3])) for r in rows),
            width=int(data["width"]),
            height=int(data["height"]),
            data_start=_HEAD.size + size,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error):
        return None


def read_frame(path: Path, index: ClipIndex, k: int) -> bytes | None:
    """Frame ``k`` (0-based) of the clip as JPEG bytes, None if there is no such frame."""
    if not 0 <= k < len(index.spans):
        return None
    offset, length = index.spans[k]
    if length > MAX_FRAME_BYTES:
        return None
    try:
        with path.open("rb") as fh:
            fh.seek(index.data_start + offset)
            data = fh.read(length)
    except OSError:
        return None
    return data if len(data) == length else None


class ClipFiles:
    """The clip files under the store's snapshot folder (``root``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, session_id: int, data: bytes) -> str:
        """Durably write a clip; its name relative to the snapshot folder. OSError (ENOSPC too) if refused."""
        rel = f"{session_id}/{CLIP_DIR}/{uuid.uuid4().hex}{SUFFIX}"
        path = self.root / rel
        try:
            for folder in (path.parent.parent, path.parent):
                if not folder.is_dir():
                    folder.mkdir(exist_ok=True)
                    fsync_dir(folder.parent)
            with atomic_writer(path) as fh:
                fh.write(data)
        except OSError:
            self.remove(rel)
            raise
        return rel

    def remove(self, rel: str) -> None:
        path = self.path(rel, must_exist=False)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)

    def path(self, rel: str | None, must_exist: bool = True) -> Path | None:
        """The file behind a stored name, never anything outside the clips of the snapshot folder."""
        if not rel or not rel.endswith(SUFFIX):
            return None
        root = self.root.resolve()
        path = (root / rel).resolve()
        if root not in path.parents or path.parent.name != CLIP_DIR:
            return None
        return path if not must_exist or path.is_file() else None

    def remove_unreferenced(self, named: Iterable[str]) -> int:
        """Clip files no row names (a write cut short, a row never committed); how many went."""
        keep = {str((self.root / rel).resolve()) for rel in named}
        removed = 0
        with contextlib.suppress(OSError):  # tidying must never keep the store from opening
            for path in self.root.glob(f"*/{CLIP_DIR}/*"):
                if path.is_file() and str(path.resolve()) not in keep:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed
