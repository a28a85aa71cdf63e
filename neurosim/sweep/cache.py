"""The result cache: one JSON file per point under ``OUT/cache/``, named by the point's content hash.

The key is the SHA-256 of (neurosim version, target, the point's resolved config, and the SHA-256 of
every file it reads: model, user preset or config). Editing a model or a preset, or upgrading
neurosim, therefore changes the key, and a cached result is never served for something else; the
same point listed twice, or rerun with ``--resume``, is read back instead of computed. Entries are
written by the client only, atomically (:func:`neurosim.fileio.write_text_atomic`), so a killed
sweep leaves complete entries or none.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from neurosim.errors import SweepError

SCHEMA = "neurosim-sweep-point"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def point_key(target: str, config: dict, digests: dict[str, str]) -> str:
    """The content hash of one point (hex SHA-256)."""
    from neurosim import __version__

    doc = {"neurosim": __version__, "target": target, "config": config, "files": dict(sorted(digests.items()))}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, allow_nan=False).encode()).hexdigest()


class Cache:
    """The cache folder of one sweep output (``OUT/cache``)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def entries(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json")) if self.folder.is_dir() else 0

    def get(self, key: str) -> dict | None:
        """The cached result of ``key`` or None; an unreadable entry (edited, truncated) is ignored and recomputed."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not (isinstance(doc, dict) and doc.get("schema") == SCHEMA and doc.get("key") == key
                and doc.get("status") in ("ok", "failed") and isinstance(doc.get("values"), dict)):
            return None
        return doc

    def put(self, key: str, result: dict) -> None:
        from neurosim.fileio import write_text_atomic

        doc = {"schema": SCHEMA, "key": key, "status": result["status"], "error": result["error"],
               "values": result["values"]}
        try:
            text = json.dumps(doc, sort_keys=True, allow_nan=True) + "\n"
            write_text_atomic(self.path(key), text)
        except OSError as exc:
            raise SweepError(f"cannot write the cache entry {str(self.path(key))!r} ({exc.strerror}); check that "
                             f"--out is a writable folder") from None
