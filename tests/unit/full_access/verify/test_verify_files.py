"""The file check against a local wp-content (no database)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from wpmigrate.full_access.verify.file_checks import files
from wpmigrate.full_access.verify.options import VerifyOptions


def _options(manifest: list[dict[str, Any]] | None, root: Path | None) -> VerifyOptions:
    unused: Any = None  # the file check never touches the databases
    return VerifyOptions(
        source_conn=unused, target_conn=unused, source_prefix="wp_", target_prefix="wp_",
        old_origins=(), target_url=None, files_manifest=manifest, target_wp_content=root,
        service_users=(), skip_columns={}, http_client=None, php_binary=None, http_limit=None,
        http_workers=1, page_size=10, max_problems=10, hits_per_column=1,
        source_tables=(), target_tables=frozenset(),
    )


def test_files_report_missing_altered_and_unsafe_entries(tmp_path: Path) -> None:
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "ok.txt").write_bytes(b"ok")
    (tmp_path / "uploads" / "changed.txt").write_bytes(b"changed")
    sha = hashlib.sha256(b"ok").hexdigest()
    manifest = [
        {"path": "uploads/ok.txt", "sha256": sha, "size": 2},
        {"path": "uploads/changed.txt", "sha256": sha},
        {"path": "uploads/gone.txt", "sha256": sha},
        {"path": "uploads/ok.txt", "sha256": sha, "size": 3},
        {"path": "../etc/passwd", "sha256": sha},
    ]
    section = files(_options(manifest, tmp_path))
    reasons = {(p["path"], p["reason"]) for p in section["problems"]}
    assert reasons == {
        ("uploads/changed.txt", "sha256 differs"),
        ("uploads/gone.txt", "missing on target"),
        ("uploads/ok.txt", "size differs"),
        ("../etc/passwd", "unsafe path in manifest"),
    }
    assert section["checked"] == 5 and section["status"] == "fail"


def test_files_skipped_without_manifest(tmp_path: Path) -> None:
    assert files(_options(None, tmp_path))["status"] == "skipped"
