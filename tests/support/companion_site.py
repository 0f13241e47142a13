"""The companion plugin installed on the sandbox's source by the tests (folder + SQL)."""

from __future__ import annotations

import io
import subprocess
import tracemalloc
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from wpmigrate.full_access.companion.client import CompanionClient
from wpmigrate.full_access.companion.files_export import export_files_via_companion
from wpmigrate.full_access.companion.package import PLUGIN_DIR, build_zip
from wpmigrate.full_access.companion.transfer import HostLimits
from wpsandbox.services import PrivateMariaDB
from wpsandbox.state import SandboxState

MIGRATION_ID = "0f6f3c1e-8d0e-4c4e-9a55-00000000c0de"


@dataclass
class InstalledCompanion:
    sandbox: SandboxState
    secret: str
    folder: Path
    db: PrivateMariaDB
    active_plugins_before: bytes  # the option's value before the install

    def client(self, http: httpx.Client, secret: str | None = None) -> CompanionClient:
        return CompanionClient(http, self.sandbox.source.url, secret or self.secret)

    def write_secret(self, secret: str, idle_seconds: int) -> None:
        data = build_zip(secret, idle_seconds=idle_seconds, migration_id=MIGRATION_ID)
        zf = zipfile.ZipFile(io.BytesIO(data))
        (self.folder / "secret.php").write_bytes(zf.read(f"{PLUGIN_DIR}/secret.php"))


def source_sql(sb: SandboxState, statement: str) -> str:
    db = PrivateMariaDB(Path(sb.home) / "db", port=sb.db.port, pid=sb.db.pid)
    return db.sql(statement, sb.db.source_db)


def php_serialize_with(value: str, item: str) -> str:
    script = "$a = unserialize($argv[1]); $a[] = $argv[2]; echo serialize(array_values($a));"
    return subprocess.run(["php", "-r", script, value, item], capture_output=True, text=True,
                          check=True).stdout


def sql_hex(value: str) -> str:
    return "X'" + value.encode("utf-8").hex() + "'"


def files_export_peak(url: str, secret: str, out_dir: Path, preflight: dict,
                      limits: HostLimits) -> tuple[int, dict]:
    """Export wp-content through the plugin in this (child) process and return the peak of
    memory the client allocated meanwhile (tracemalloc), with the export's summary. Run in a
    fresh interpreter: in a long test session, other tests' threads and the garbage the cycle
    collector has not reached yet would count as this export's."""
    tracemalloc.start()
    try:
        with httpx.Client(timeout=60, trust_env=False) as http:
            client = CompanionClient(http, url, secret)
            client.preflight()  # the first request imports what the transport loads lazily
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            summary = export_files_via_companion(client, out_dir, preflight=preflight, limits=limits,
                                                 workers=1)
            return tracemalloc.get_traced_memory()[1] - base, summary
    finally:
        tracemalloc.stop()
