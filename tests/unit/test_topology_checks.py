"""The topology tests' check for worker-local paths in XCom holds wherever the checkout
lives: under /tmp, the source's own folders (wp_root, wp_content_dir in validate_source's
XCom) start with /tmp as a worker's temp files do, and only the latter are local."""

from __future__ import annotations

from tests.support.topology_checks import worker_local_paths

CHECKOUT = "/tmp/wpm-topo-check"
TOPO_HOME = f"{CHECKOUT}/var/topology"
SOURCE_ROOT = f"{CHECKOUT}/var/sandbox/source/www"
SITES = (SOURCE_ROOT, f"{SOURCE_ROOT}/wp-content/")


def test_the_source_hosts_own_paths_are_not_worker_local() -> None:
    values = [SOURCE_ROOT, f"{SOURCE_ROOT}/wp-content", f"{SOURCE_ROOT}/wp-content/uploads/a.jpg",
              "s3://aws@bucket/migrations/x/db/manifest.json", "wp_", "https://old.example"]
    assert worker_local_paths(values, TOPO_HOME, SITES) == []


def test_worker_local_artifacts_are_still_caught() -> None:
    local = [f"{TOPO_HOME}/worker-1/tmp/wpmigrate-x/manifest.json", "/tmp/wpmigrate-artifacts/x/db",
             "file:///tmp/wpmigrate-artifacts/x/db", f"file://{SOURCE_ROOT}/wp-content",
             f"{SOURCE_ROOT}-copy/db.sql"]  # beside the source's root is not in it
    assert worker_local_paths(local, TOPO_HOME, SITES) == local
