"""The file check: every entry of the export's files manifest is in the target's
``wp-content`` with the same sha256 (hashed in 1 MiB chunks, never read whole)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from wpmigrate.full_access.files.manifest import UnsafePath, join_safe
from wpmigrate.full_access.verify.options import VerifyOptions
from wpmigrate.full_access.verify.report import ProblemList, Section, section


def _field(entry: object, *names: str) -> Any:
    """A manifest field from a dict or a ``files.manifest.ManifestEntry``."""
    for name in names:
        value = entry.get(name) if isinstance(entry, Mapping) else getattr(entry, name, None)
        if value is not None:
            return value
    return None


def _sha256(path: Any) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def files(o: VerifyOptions) -> Section:
    problems = ProblemList(o.max_problems)
    if o.files_manifest is None or o.target_wp_content is None:
        return section("Files (sha256)", problems, checked=0,
                       skipped="no files manifest or target wp-content given")
    root = o.target_wp_content
    if isinstance(root, str):
        root = Path(root)
    local_root = root.resolve() if isinstance(root, Path) else None
    checked, total_bytes = 0, 0
    for entry in o.files_manifest:
        rel = str(_field(entry, "path", "relpath") or "")
        want = str(_field(entry, "sha256") or "").lower()
        checked += 1
        pure = PurePosixPath(rel)
        if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel or "\x00" in rel:
            problems.add({"path": rel, "reason": "unsafe path in manifest"})
            continue
        try:
            path = join_safe(root, rel)  # segment by segment: a directory named http: joins too
        except UnsafePath as exc:
            problems.add({"path": rel, "reason": f"cannot be joined under the target: {exc}"})
            continue
        try:
            if local_root is not None and not Path(str(path)).resolve().is_relative_to(local_root):
                problems.add({"path": rel, "reason": "resolves outside target wp-content"})
                continue
            size = _field(entry, "size")
            if size is not None and hasattr(path, "stat"):
                actual = path.stat().st_size
                if actual != int(size):
                    problems.add({"path": rel, "reason": "size differs", "expected_size": int(size),
                                  "actual_size": actual})
                    continue
            digest, nbytes = _sha256(path)
        except FileNotFoundError:
            problems.add({"path": rel, "reason": "missing on target"})
            continue
        except OSError as exc:
            problems.add({"path": rel, "reason": f"unreadable: {exc.__class__.__name__}"})
            continue
        total_bytes += nbytes
        if want and digest != want:
            problems.add({"path": rel, "reason": "sha256 differs", "expected": want, "actual": digest})
    return section("Files (sha256)", problems, checked=checked, bytes_hashed=total_bytes,
                   notes=["Every manifest entry must exist in the target wp-content with the same "
                          "sha256 (streamed, 1 MiB chunks)."])
