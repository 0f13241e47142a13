"""What the topology tests look for in a run's traces: strings in XCom values, connection
passwords, files left on workers, the source's busiest second; and extra platform targets
whose connections the workers can find."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wpsandbox import build, topology
from wpsandbox.state import PlatformTarget, SandboxState, connections


def strings(value: Any) -> Iterator[str]:
    """Every string an XCom value holds, however nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def xcom_strings(entries: list[dict[str, Any]], wp_content: str, docroot: str) -> list[str]:
    """The strings of a run's XCom entries, but the target site's own folder: where the
    import writes (the platform's storage, the same for every worker), not an artifact."""
    target_site = {Path(wp_content).as_uri(), docroot}
    return [s for e in entries for s in strings(e["value"]) if s not in target_site]


def worker_local_paths(values: Iterable[str], topo_home: str, site_folders: Iterable[str]) -> list[str]:
    """The strings that name a file one worker has and another lacks: a ``file://`` URI, or a
    path under the topology's folders (the workers' working and temp dirs) or /tmp. A path in
    or under one of ``site_folders`` is not: the source's WordPress root and wp-content (read
    over SFTP) and the target's folder are the sites' own, the same for every worker; and when
    the checkout (so the sandbox) lives under /tmp, they start with /tmp too."""
    roots = [folder.rstrip("/") for folder in site_folders]

    def of_a_site(path: str) -> bool:
        return any(path == root or path.startswith(root + "/") for root in roots)

    return [s for s in values
            if "file://" in s or (s.startswith((topo_home, "/tmp")) and not of_a_site(s))]


def connection_passwords(state: SandboxState) -> list[str]:
    """Every password of the sandbox's connections (long enough not to match by chance)."""
    return [p for c in connections(state).values() if len(p := json.loads(c).get("password") or "") >= 8]


def files_left(topo: topology.Topology) -> dict[str, list[str]]:
    """Files in each worker's working and temp folders."""
    return {name: [str(p) for folder in folders.values() for p in Path(folder).rglob("*") if p.is_file()]
            for name, folders in topo.workers.items()}


def our_requests(request_log: str, started: float, ended: float) -> list[float]:
    """When wpmigrate's requests reached a site between ``started`` and ``ended``, sorted
    (its request log: one JSON line per request)."""
    return sorted(entry["t"] for line in Path(request_log).read_text().splitlines()
                  if (entry := json.loads(line)) and "wpmigrate" in (entry.get("ua") or "")
                  and started <= entry["t"] <= ended)


def busiest_second(times: list[float]) -> int:
    """The most requests within any one second (``times`` sorted; more than 12 is past any
    limit the tests look for, so windows stop there)."""
    return max(sum(1 for u in times[i:i + 12] if u - t < 1.0) for i, t in enumerate(times))


def fresh_targets(state: SandboxState, topo: topology.Topology, count: int) -> list[PlatformTarget]:
    """``count`` extra platform targets, each back to its fresh install, their connections
    in the topology's Secrets Manager (where the workers look)."""
    targets = build.up_targets(count, state)
    for target in targets:
        build.reset_platform_target(state, target)
    ids = {i for t in targets for i in (t.db_conn_id, t.wp_conn_id)}
    topology.put_connections(topo.aws_endpoint,
                             {k: json.loads(v) for k, v in connections(state).items() if k in ids})
    return targets
