"""The ``wp_admin`` route under faults, end to end through the REST API, on the tight admin
source (5 s, 64M): the source's PHP server restarted mid-file and a chunk answer cut short
(one run), and the export task killed mid-table on every try, then cleared. Each run ends
with verification passing, nothing lost or duplicated, and the plugin gone from the source.

The cut chunk comes from a small TCP relay in front of the source (the run's ``source_url``):
it forwards everything, except that it stops the first large answer to the plugin's ``file``
action half way and closes the connection, as a host dropping a response would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import wordpress_checks as wc
from tests.support.admin_source import source_db
from wpmigrate.full_access.companion.package import PLUGIN_DIR
from wpsandbox import build
from wpsandbox import state as sandbox_state

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]
DAG_ID = "wp_migration_full_access"
ROOT = Path(__file__).resolve().parents[2]


class CuttingRelay:
    """127.0.0.1:<port> -> the source. Cuts the first ``file`` answer whose body is at least
    ``min_body`` bytes after half of it (php -S closes every connection after one answer)."""

    def __init__(self, upstream_port: int, min_body: int = 64 << 10,
                 on_request: Callable[[bytes], None] | None = None) -> None:
        self.upstream_port, self.min_body, self.on_request = upstream_port, min_body, on_request
        self.cut = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:  # the source is restarting: refuse the client as the source would
            client.close()
            return
        try:
            self._relay(client, upstream)
        finally:
            for sock in (client, upstream):  # shutdown first: the other thread is blocked in recv
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        first = client.recv(65536)
        upstream.sendall(first)
        if self.on_request:  # the source is at work on this request now
            self.on_request(first.split(b"\r\n", 1)[0])
        cut = b"wpmigrate-companion=file" in first.split(b"\r\n", 1)[0] and not self.cut.is_set()
        threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
        head, body_seen, limit = b"", 0, None
        while chunk := _recv(upstream):
            if cut and limit is None:
                head += chunk
                if b"\r\n\r\n" in head:
                    header, rest = head.split(b"\r\n\r\n", 1)
                    length = _content_length(header)
                    if length is not None and length >= self.min_body:
                        limit = length // 2
                        client.sendall(header + b"\r\n\r\n")
                        chunk, body_seen = rest, 0
                    else:
                        cut, chunk = False, head
                else:
                    continue
            if limit is not None:
                take = chunk[:max(0, limit - body_seen)]
                client.sendall(take)
                body_seen += len(take)
                if body_seen >= limit:
                    self.cut.set()
                    return  # both sockets close: the answer ends half way
                continue
            client.sendall(chunk)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        while chunk := _recv(src):
            try:
                dst.sendall(chunk)
            except OSError:
                return


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _content_length(header: bytes) -> int | None:
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def _source_counts(sb: sandbox_state.SandboxState) -> dict[str, int]:
    admin = sb.admin_source
    assert admin is not None
    conn = source_db(sb)
    return {t: wc.migrated_rows(conn, admin.table_prefix, t)
            for t in ("posts", "postmeta", "options", "comments", "terms", "term_relationships", "usermeta")}


def _target_matches_source(sb: sandbox_state.SandboxState) -> None:
    admin = sb.admin_source
    assert admin is not None
    src, tgt = source_db(sb), wc.db(sb, "target")
    assert wc.posts(src, admin.table_prefix) == wc.posts(tgt, sb.target.table_prefix)
    for table in ("postmeta", "comments", "terms", "term_relationships"):
        s = wc.migrated_rows(src, admin.table_prefix, table)
        t = wc.migrated_rows(tgt, sb.target.table_prefix, table)
        assert s == t, table  # nothing lost, nothing duplicated
    source_files = wc.sha256_tree(Path(admin.wp_content) / "uploads")
    target_files = wc.sha256_tree(Path(sb.target.wp_content) / "uploads")
    assert source_files and {k: v for k, v in source_files.items() if target_files.get(k) != v} == {}
    assert not (Path(admin.wp_content) / "plugins" / PLUGIN_DIR).exists()


def test_php_restart_mid_file_and_a_cut_chunk(admin_source, rest) -> None:
    sb = admin_source
    admin = sb.admin_source
    assert admin is not None
    build.reset_target(sb)
    big_name = admin.big_file.rsplit("/", 1)[-1].encode()
    restarts: list[bytes] = []

    def restart_mid_file(request_line: bytes) -> None:
        """Restart the source's PHP while it serves a chunk past the big file's first one."""
        if not restarts and b"wpmigrate-companion=file" in request_line and big_name in request_line \
                and b"offset=0&" not in request_line:
            restarts.append(request_line)
            threading.Thread(target=build.restart_admin_source_php, args=(sb,), daemon=True).start()

    relay = CuttingRelay(admin.port, on_request=restart_mid_file)
    try:
        run_id = str(uuid.uuid4())
        conf = sandbox_state.mode_a_admin_conf(sb, run_id)
        conf["source_url"] = f"http://127.0.0.1:{relay.port}"
        assert rest.trigger(DAG_ID, run_id, conf).status_code == 200
        run = rest.wait(DAG_ID, run_id, timeout=1200)
    finally:
        relay.close()
    assert run["state"] == "success", rest.task_states(DAG_ID, run_id)
    assert relay.cut.is_set() and len(restarts) == 1
    assert rest.xcom(DAG_ID, run_id, "verify", "report")["ok"] is True
    files = rest.xcom(DAG_ID, run_id, "export_files")
    assert files["route"] == "wp_admin"
    # Both faults were met and handled inside the tasks' first tries, by smaller requests.
    logs = rest.log(DAG_ID, run_id, "export_files", 1) + rest.log(DAG_ID, run_id, "export_database", 1)
    assert logs.count("the source failed on") >= 2, logs[-3000:]
    tries = {ti["task_id"]: ti["try_number"] for ti in rest.task_instances(DAG_ID, run_id)}
    assert tries["export_files"] == 1 and tries["export_database"] == 1
    _target_matches_source(sb)
    target_big = Path(sb.target.wp_content) / admin.big_file
    assert wc.sha256_tree(target_big.parent)[target_big.name] == admin.big_file_sha256


def _export_writers(run_id: str) -> list[int]:
    """Processes that hold one of this run's database row artifacts open: the export task."""
    rows_dir = ROOT / "var" / "artifacts-e2e" / "sandbox" / run_id / "db"
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            targets = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if any(t.startswith(str(rows_dir)) and "postmeta.rows.msgpack" in t for t in targets):
            pids.append(int(proc.name))
    return pids


def test_export_killed_mid_table_then_cleared(admin_source, rest) -> None:
    sb = admin_source
    build.reset_target(sb)
    before = _source_counts(sb)
    run_id = str(uuid.uuid4())
    assert rest.trigger(DAG_ID, run_id, sandbox_state.mode_a_admin_conf(sb, run_id)).status_code == 200

    # Kill every try (the first and the 2 retries) while it writes postmeta, so the task ends
    # failed as an operator sees it; the run then fails and its cleanup removes the plugin.
    kills = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        state = rest.task_states(DAG_ID, run_id).get("export_database")
        if state == "failed":
            break
        for pid in _export_writers(run_id) if state == "running" else []:
            os.kill(pid, signal.SIGKILL)
            kills += 1
            time.sleep(1)
        time.sleep(0.05)
    assert kills >= 3
    assert rest.wait(DAG_ID, run_id, timeout=600)["state"] == "failed"
    assert rest.xcom(DAG_ID, run_id, "cleanup", "source_release")["removed"] is True
    assert not (Path(sb.admin_source.wp_content) / "plugins" / PLUGIN_DIR).exists()

    rest.clear(DAG_ID, run_id, ["export_database"], downstream=True)
    rest.wait(DAG_ID, run_id, timeout=60, poll=0.5, until=lambda r: r["state"] != "failed")
    run = rest.wait(DAG_ID, run_id, timeout=1200)
    assert run["state"] == "success", rest.task_states(DAG_ID, run_id)
    report = rest.xcom(DAG_ID, run_id, "verify", "report")
    assert report["ok"] is True
    manifest = json.loads(Path(urlsplit(rest.xcom(DAG_ID, run_id, "export_database")["manifest_uri"]).path)
                          .read_text())
    assert manifest["resumed_tables"] >= 1  # the tables finished before the kills were kept
    assert _source_counts(sb) == before
    _target_matches_source(sb)
