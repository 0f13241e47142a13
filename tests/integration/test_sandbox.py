"""The sandbox is real: WordPress answers, the seed holds the cases migrations break on,
the credentials it hands out work, reset-target resets, and down stops everything."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import MySQLdb
import paramiko
import pytest

from wpsandbox import build, query_log
from wpsandbox.state import (
    SOURCE_ADMIN_CONN_ID,
    SOURCE_EDITOR_CONN_ID,
    AdminSource,
    SandboxState,
    SshSource,
    airflow_connections,
    connections,
    load,
    mode_a_admin_conf,
    mode_a_conf,
    mode_a_ssh_conf,
    mode_b_conf,
)

pytestmark = pytest.mark.sandbox


def _reader(state: SandboxState) -> MySQLdb.Connection:
    return MySQLdb.connect(host=state.db.host, port=state.db.port, user=state.db.reader_user,
                           password=state.db.reader_password, database=state.db.source_db,
                           charset="utf8mb4")


def _writer(state: SandboxState) -> MySQLdb.Connection:
    return MySQLdb.connect(host=state.db.host, port=state.db.port, user=state.db.writer_user,
                           password=state.db.writer_password, database=state.db.target_db,
                           charset="utf8mb4", autocommit=True)


def _query(conn: MySQLdb.Connection, sql: str, *args: object) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _option(state: SandboxState, name: str) -> bytes:
    conn = _reader(state)
    try:
        with conn.cursor() as cur:
            # Raw bytes: serialized lengths count bytes, so compare bytes.
            cur.execute(f"SELECT CAST(option_value AS BINARY) FROM {state.source.table_prefix}options "
                        "WHERE option_name = %s", (name,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def _php_unserialize(value: bytes, times: int = 1) -> str:
    """PHP's own unserialize() is the oracle; exits 3 when it returns false."""
    code = ("$v = stream_get_contents(STDIN); "
            f"for ($i = 0; $i < {times}; $i++) {{ $v = unserialize($v); if ($v === false) exit(3); }} "
            "var_dump($v);")
    proc = subprocess.run(["php", "-r", code], input=value, capture_output=True, check=False)
    assert proc.returncode == 0, f"unserialize failed for {value[:200]!r}: {proc.stderr!r}"
    return proc.stdout.decode()


def test_source_home_is_wordpress(sandbox: SandboxState) -> None:
    resp = httpx.get(sandbox.source.url + "/")
    assert resp.status_code == 200
    assert '<meta name="generator" content="WordPress' in resp.text
    assert "/wp-content/" in resp.text
    assert 'rel="https://api.w.org/"' in resp.headers["link"]
    assert resp.headers["x-sandbox-mu"] == "1"  # the mu-plugin runs


def test_source_rest_lists_posts(sandbox: SandboxState) -> None:
    resp = httpx.get(sandbox.source.url + "/wp-json/wp/v2/posts", params={"per_page": 100})
    assert resp.status_code == 200
    titles = {p["title"]["rendered"] for p in resp.json()}
    assert "Block Editor Showcase" in titles
    assert "東京のカフェ ☕ Café Guide 🚀" in titles
    assert "Draft: upcoming launch" not in titles  # not published, not public
    assert int(resp.headers["x-wp-total"]) >= 15
    pages = httpx.get(sandbox.source.url + "/wp-json/wp/v2/pages", params={"per_page": 100}).json()
    by_id = {p["id"]: p for p in pages}
    leadership = by_id[sandbox.facts["pages"]["leadership"]]
    assert leadership["link"] == sandbox.source.url + "/about-us/our-team/leadership/"
    for path in ("/about-us/our-team/leadership/", "/category/news/", "/tag/blocks/", "/wp-sitemap.xml",
                 "/robots.txt"):
        assert httpx.get(sandbox.source.url + path).status_code == 200, path


def test_request_log_records_paths(sandbox: SandboxState) -> None:
    marker = f"/sandbox-probe-{uuid.uuid4().hex}/"
    assert httpx.get(sandbox.source.url + marker).status_code == 404
    lines = [json.loads(line) for line in Path(sandbox.source.request_log).read_text().splitlines()]
    assert any(entry["uri"] == marker and entry["status"] == 404 for entry in lines)


def test_source_prefix_and_read_only_user(sandbox: SandboxState) -> None:
    conn = _reader(sandbox)
    try:
        tables = [row[0] for row in _query(conn, "SHOW TABLES")]
        assert tables and all(t.startswith("wpsrc_") for t in tables)
        keys = {row[0] for row in _query(conn, "SELECT DISTINCT meta_key FROM wpsrc_usermeta")}
        assert {"wpsrc_capabilities", "wpsrc_user_level"} <= keys
        roles = {row[0] for row in _query(conn, "SELECT meta_value FROM wpsrc_usermeta "
                                                "WHERE meta_key = 'wpsrc_capabilities'")}
        for role in ("administrator", "editor", "author", "subscriber"):
            assert any(f'"{role}"' in r for r in roles), role
        roles_option = "SELECT COUNT(*) FROM wpsrc_options WHERE option_name = 'wpsrc_user_roles'"
        assert _query(conn, roles_option)[0][0] == 1
        with pytest.raises(MySQLdb.OperationalError) as err:
            _query(conn, "UPDATE wpsrc_options SET option_value = 'x' WHERE option_name = 'blogname'")
        assert err.value.args[0] == 1142  # command denied
    finally:
        conn.close()


def test_postmeta_is_big(sandbox: SandboxState) -> None:
    conn = _reader(sandbox)
    try:
        assert _query(conn, "SELECT COUNT(*) FROM wpsrc_postmeta")[0][0] >= 50_000
        with_url = _query(conn, "SELECT COUNT(*) FROM wpsrc_postmeta WHERE meta_value LIKE %s",
                          f"%{sandbox.source.url}%")[0][0]
        assert with_url >= 5_000
    finally:
        conn.close()


def test_serialized_options_are_valid_php(sandbox: SandboxState) -> None:
    url = sandbox.source.url.encode()
    nested = _option(sandbox, "sandbox_nested_serialized")
    assert nested.startswith(b's:')  # a serialized string ...
    inner = _php_unserialize(nested, times=2)  # ... holding a serialized array
    assert sandbox.source.url in inner
    assert "Café ☕ 東京" in inner

    missing = _option(sandbox, "sandbox_missing_object")
    assert missing.startswith(b'O:14:"Missing_Widget":2:{') and url in missing
    assert "__PHP_Incomplete_Class" in _php_unserialize(missing)
    legacy = _option(sandbox, "sandbox_legacy_object")
    assert b"\0*\0endpoint" in legacy  # a protected property: NUL bytes in the value

    multibyte = _option(sandbox, "sandbox_multibyte")
    assert b's:26:"\xe3\x81\x93' in multibyte  # 8 characters, 26 bytes
    for name in sandbox.facts["tricky_options"]:
        value = _option(sandbox, name)
        if name != "sandbox_json_option":
            _php_unserialize(value)
    settings = _option(sandbox, "sandbox_plugin_settings")
    assert sandbox.source.docroot.encode() in settings  # the old filesystem path


def test_block_content_holds_every_url_variant(sandbox: SandboxState) -> None:
    host_port = sandbox.source.url.removeprefix("http://")
    conn = _reader(sandbox)
    try:
        content = _query(conn, "SELECT post_content FROM wpsrc_posts WHERE ID = %s",
                         sandbox.facts["posts"]["showcase"])[0][0]
    finally:
        conn.close()
    assert '"url":"http:\\/\\/' + host_port.replace("/", "\\/") + '\\/wp-content\\/uploads\\/' in content
    assert "http%3A%2F%2F" + host_port.replace(":", "%3A") + "%2F" in content
    assert f'src="//{host_port}/wp-content/uploads/' in content
    assert f"https://{host_port}/" in content


def test_media_has_generated_sizes(sandbox: SandboxState) -> None:
    uploads = Path(sandbox.source.wp_content) / "uploads"
    hero = sandbox.facts["media"]["hero"]
    original = uploads / hero["file"]
    assert original.is_file()
    assert {"thumbnail", "medium", "large"} <= set(hero["sizes"])
    for size_file in hero["sizes"].values():
        assert (original.parent / size_file).is_file()
    folder = Path(hero["file"]).parent
    thumb = f"{sandbox.source.url}/wp-content/uploads/{folder}/{hero['sizes']['thumbnail']}"
    resp = httpx.get(thumb)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    media = httpx.get(sandbox.source.url + "/wp-json/wp/v2/media", params={"per_page": 100}).json()
    assert len(media) >= len(sandbox.facts["media"])


def test_source_files_include_theme_plugin_and_junk(sandbox: SandboxState) -> None:
    content = Path(sandbox.source.wp_content)
    assert (content / "themes/sandbox-child/style.css").is_file()
    plugin = content / "plugins/sandbox-plugin/sandbox-plugin.php"
    assert "Plugin Name: Sandbox Helper" in plugin.read_text()
    assert (content / "mu-plugins/sandbox-mu.php").is_file()
    assert any((content / "cache").rglob("*.*"))
    assert _option(sandbox, "active_plugins") == b'a:1:{i:0;s:33:"sandbox-plugin/sandbox-plugin.php";}'


def test_target_app_password_works(fresh_target: SandboxState) -> None:
    sandbox = fresh_target
    auth = (sandbox.platform.service_user, sandbox.platform.app_password)
    resp = httpx.get(sandbox.target.url + "/wp-json/wp/v2/users/me", auth=auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["slug"] == "platform-admin"
    assert httpx.get(sandbox.target.url + "/wp-json/wp/v2/users/me").status_code == 401
    conn = _writer(sandbox)
    try:
        rows = dict(_query(conn, "SELECT option_name, option_value FROM wp_options "
                                 "WHERE option_name IN ('platform_site_id', 'blogname')"))
    finally:
        conn.close()
    assert rows == {"platform_site_id": sandbox.platform.site_id, "blogname": "Platform Target"}


def test_sftp_lists_source_wp_content(sandbox: SandboxState) -> None:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(sandbox.sftp.host, port=sandbox.sftp.port, username=sandbox.sftp.user,
                   key_filename=sandbox.sftp.key_file, allow_agent=False, look_for_keys=False, timeout=10)
    try:
        sftp = client.open_sftp()
        names = set(sftp.listdir(sandbox.source.wp_content))
        assert {"uploads", "themes", "plugins", "mu-plugins", "cache"} <= names
        hero = sandbox.facts["media"]["hero"]["file"]
        local = Path(sandbox.source.wp_content) / "uploads" / hero
        assert sftp.stat(f"{sandbox.source.wp_content}/uploads/{hero}").st_size == local.stat().st_size
    finally:
        client.close()


def test_reset_target_undoes_changes(fresh_target: SandboxState) -> None:
    state = fresh_target
    auth = (state.platform.service_user, state.platform.app_password)
    created = httpx.post(state.target.url + "/wp-json/wp/v2/posts", auth=auth,
                         json={"title": "Written by a test", "status": "publish"})
    assert created.status_code == 201, created.text
    stray = Path(state.target.wp_content) / "uploads" / "stray.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("left behind")
    conn = _writer(state)
    try:
        _query(conn, "UPDATE wp_options SET option_value = 'Changed' WHERE option_name = 'blogname'")
    finally:
        conn.close()

    started = time.monotonic()
    build.reset_target(state)
    assert time.monotonic() - started < 5

    assert httpx.get(f"{state.target.url}/wp-json/wp/v2/posts/{created.json()['id']}").status_code == 404
    assert not stray.exists()
    home = httpx.get(state.target.url + "/")
    assert "Platform Target" in home.text
    # The application password is part of the restored state.
    assert httpx.get(state.target.url + "/wp-json/wp/v2/users/me", auth=auth).status_code == 200


def test_static_site_is_not_wordpress(sandbox: SandboxState) -> None:
    home = httpx.get(sandbox.static.url + "/")
    assert home.status_code == 200 and "Plain Static Site" in home.text
    assert "wp-content" not in home.text
    assert httpx.get(sandbox.static.url + "/wp-json/").status_code == 404
    assert httpx.get(sandbox.static.url + "/robots.txt").status_code == 200


def test_source_rest_switch(sandbox: SandboxState) -> None:
    try:
        build.set_source_rest(False, sandbox)
        assert httpx.get(sandbox.source.url + "/wp-json/wp/v2/posts").status_code == 401
        assert httpx.get(sandbox.source.url + "/", params={"rest_route": "/wp/v2/posts"}).status_code == 401
        assert httpx.get(sandbox.source.url + "/").status_code == 200
    finally:
        build.set_source_rest(True, sandbox)
    assert httpx.get(sandbox.source.url + "/wp-json/wp/v2/posts").status_code == 200


def test_up_reuses_a_healthy_sandbox(sandbox: SandboxState) -> None:
    started = time.monotonic()
    again = build.up()
    assert time.monotonic() - started < 3
    assert again.pids == sandbox.pids
    assert load().created_at == sandbox.created_at


def test_airflow_connections_and_conf(sandbox: SandboxState) -> None:
    env = airflow_connections(sandbox)
    # The admin source's two logins join once it exists (a session may have added it already).
    admin = ({"AIRFLOW_CONN_WPM_SOURCE_ADMIN", "AIRFLOW_CONN_WPM_SOURCE_EDITOR",
              "AIRFLOW_CONN_WPMIGRATE_COMPANION_KEY", "AIRFLOW_CONN_WPM_SOURCE_COMPANION"}
             if sandbox.admin_source else set())
    assert set(env) == {"AIRFLOW_CONN_WPM_SOURCE_SFTP", "AIRFLOW_CONN_WPM_SOURCE_DB",
                        "AIRFLOW_CONN_WPM_TARGET_DB", "AIRFLOW_CONN_WPM_TARGET_WP"} | admin
    conns = {k: json.loads(v) for k, v in connections(sandbox).items()}
    assert conns["wpm_source_sftp"]["extra"] == {"key_file": sandbox.sftp.key_file, "no_host_key_check": True,
                                               "wpmigrate": {"tenant": "sandbox", "role": "source"}}
    # The tenant wall's markings: the target's database names its site, the key none at all.
    assert conns["wpm_target_db"]["extra"]["wpmigrate"] == {"tenant": "sandbox", "role": "target",
                                                            "site": sandbox.target.url}
    assert conns["wpm_target_wp"]["extra"] == {"wpmigrate": {"tenant": "sandbox", "role": "target"}}
    assert conns["wpm_source_db"]["login"] == "src_reader"
    assert conns["wpm_target_db"]["schema"] == "wp_target"
    assert conns["wpm_target_wp"]["host"] == sandbox.target.url
    conf = mode_a_conf(sandbox, "3f1c1e9e-9a57-4c1f-9d59-0d3b0e6d4a11")
    assert conf["migration_id"] == "3f1c1e9e-9a57-4c1f-9d59-0d3b0e6d4a11"
    assert conf["target"]["wp_content_uri"] == f"file://{sandbox.target.docroot}/wp-content"
    assert sandbox.platform.app_password not in json.dumps(conf)  # never a secret in conf
    assert (Path(sandbox.home) / "state.json").stat().st_mode & 0o077 == 0


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pids_of_group(pgid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def test_down_leaves_no_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A second, small sandbox of its own, so the shared one keeps running."""
    home = tmp_path_factory.mktemp("wpsandbox")
    try:
        state = build.up(postmeta_rows=100, home=home)
        assert len(_pids_of_group(state.source.pid)) >= 2  # php -S master + workers
        # An open SFTP session: sshd's per-connection child has left sshd's process group.
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(state.sftp.host, port=state.sftp.port, username=state.sftp.user,
                       key_filename=state.sftp.key_file, allow_agent=False, look_for_keys=False)
        client.open_sftp().listdir(state.source.wp_content)
        session_pids = build.descendants([state.sftp.pid])
        assert session_pids

        build.down(home=home)
        client.close()
        for pid in state.pids:
            assert not _pids_of_group(pid), f"process group {pid} still has processes"
        assert not [p for p in session_pids if build.alive(p)]
        for port in (state.db.port, state.sftp.port, state.source.port, state.target.port, state.static.port):
            assert not _port_open(port), port
        assert not (home / "state.json").exists()
        assert build.status(home)["up"] is False
    finally:
        build.down(home=home)
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------- the ssh source


def _ssh(state: SandboxState) -> SshSource:
    assert state.ssh_source is not None
    return state.ssh_source


def _sftp_read(state: SandboxState, path: str) -> str:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(state.sftp.host, port=state.sftp.port, username=state.sftp.user,
                   key_filename=state.sftp.key_file, allow_agent=False, look_for_keys=False, timeout=10)
    try:
        with client.open_sftp().open(path) as remote:
            return remote.read().decode()
    finally:
        client.close()


def _tcp_listeners(pid: int) -> list[str]:
    """Local addresses of the TCP sockets in LISTEN state that process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    assert inodes, "the server holds no socket at all"  # its unix socket at least
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.append(fields[1])
    return found


def test_ssh_source_answers_over_http(ssh_source: SandboxState) -> None:
    ssh = _ssh(ssh_source)
    assert ssh.url != ssh_source.source.url
    resp = httpx.get(ssh.url + "/")
    assert resp.status_code == 200
    assert '<meta name="generator" content="WordPress' in resp.text
    assert resp.headers["x-sandbox-mu"] == "1"
    assert httpx.get(ssh.url + "/about-us/our-team/leadership/").status_code == 200


def test_ssh_source_database_has_no_tcp_port(ssh_source: SandboxState) -> None:
    ssh = _ssh(ssh_source)
    skip = build.ssh_source_sql(ssh_source, "SHOW VARIABLES LIKE 'skip_networking'")
    assert skip == "skip_networking\tON\n"
    assert build.ssh_source_sql(ssh_source, "SELECT @@port, @@socket") == f"0\t{ssh.db_socket}\n"
    assert _tcp_listeners(ssh.db_pid) == []
    assert _tcp_listeners(ssh_source.db.pid) != []  # the check sees a TCP server when there is one
    # WordPress's own user (wp-config.php) logs in over the socket; it may write, so only read.
    conn = MySQLdb.connect(unix_socket=ssh.db_socket, user=ssh.db_user, password=ssh.db_password,
                           database=ssh.db_name, charset="utf8mb4")
    try:
        assert _query(conn, f"SELECT option_value FROM {ssh.table_prefix}options "
                            "WHERE option_name = 'siteurl'") == [(ssh.url,)]
        grants = " ".join(row[0] for row in _query(conn, "SHOW GRANTS"))
        assert f"ALL PRIVILEGES ON `{ssh.db_name}`.*" in grants
    finally:
        conn.close()


def test_ssh_source_database_is_reachable_through_the_ssh_login(
        ssh_source: SandboxState, tmp_path: Path) -> None:
    """The one way in: the SSH login forwards a local socket to the server's (streamlocal)."""
    ssh = _ssh(ssh_source)
    local = tmp_path / "forwarded.sock"
    tunnel = subprocess.Popen(
        ["ssh", "-N", "-i", ssh_source.sftp.key_file, "-p", str(ssh_source.sftp.port),
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
         "-o", "ExitOnForwardFailure=yes", "-L", f"{local}:{ssh.db_socket}",
         f"{ssh_source.sftp.user}@{ssh_source.sftp.host}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not local.exists() and tunnel.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert local.exists(), f"no forward (ssh exited {tunnel.poll()})"
        conn = MySQLdb.connect(unix_socket=str(local), user=ssh.db_user, password=ssh.db_password,
                               database=ssh.db_name, charset="utf8mb4")
        try:
            assert _query(conn, "SELECT CURRENT_USER()") == [(f"{ssh.db_user}@localhost",)]
        finally:
            conn.close()
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)


def test_ssh_source_wp_config_names_the_socket(ssh_source: SandboxState) -> None:
    ssh = _ssh(ssh_source)
    config = _sftp_read(ssh_source, f"{ssh.docroot}/wp-config.php")  # as the ssh route reads it
    defines = dict(re.findall(r"^define\( '(\w+)', '([^']*)' \);$", config, re.MULTILINE))
    assert defines["DB_HOST"] == f"localhost:{ssh.db_socket}"
    assert Path(ssh.db_socket).is_absolute()
    assert (defines["DB_NAME"], defines["DB_USER"]) == (ssh.db_name, ssh.db_user)
    assert defines["DB_PASSWORD"] == ssh.db_password
    assert len([k for k in defines if k.endswith(("_KEY", "_SALT"))]) == 8
    assert f"\n$table_prefix = '{ssh.table_prefix}';\n" in config
    assert ssh.table_prefix == "wpssh_"
    assert '"' not in "".join(line for line in config.splitlines() if line.startswith("define("))


def _seed_common_meta(sb: SandboxState) -> str:
    """SQL condition on postmeta rows every seeded source holds: not the URL forms only the
    main source is seeded with (issue 10), nor WordPress's oEmbed cache (written when a page
    with an embed is viewed)."""
    forms = sb.facts["url_forms"]
    only_main = ", ".join(f"'{key}'" for key in {*forms["postmeta"], *forms["broken_serialized"]["postmeta"]})
    return f"meta_key NOT IN ({only_main}) AND meta_key NOT LIKE '\\_oembed\\_%%'"


def _postmeta_like_others(sb: SandboxState) -> int:
    """The main source's postmeta count as the other sources are seeded (their facts count
    at seeding, before any page view)."""
    forms = sb.facts["url_forms"]
    only_main = len({*forms["postmeta"], *forms["broken_serialized"]["postmeta"]})
    return int(sb.facts["postmeta_count"]) - only_main


def test_ssh_source_is_seeded_like_the_source(ssh_source: SandboxState) -> None:
    ssh = _ssh(ssh_source)
    counts = ("SELECT 'posts', post_type, post_status, COUNT(*) FROM {p}posts "
              "GROUP BY post_type, post_status "
              "UNION ALL SELECT 'comments', comment_approved, '', COUNT(*) FROM {p}comments "
              "GROUP BY comment_approved "
              "UNION ALL SELECT 'users', '', '', COUNT(*) FROM {p}users "
              "UNION ALL SELECT 'terms', taxonomy, '', COUNT(*) FROM {p}term_taxonomy GROUP BY taxonomy "
              "UNION ALL SELECT 'postmeta', '', '', COUNT(*) FROM {p}postmeta WHERE {meta} ORDER BY 1, 2, 3")
    meta = _seed_common_meta(ssh_source)
    conn = _reader(ssh_source)
    try:
        main = [tuple(str(v) for v in row)
                for row in _query(conn, counts.format(p=ssh_source.source.table_prefix, meta=meta))]
    finally:
        conn.close()
    ssh_counts = build.ssh_source_sql(ssh_source, counts.format(p=ssh.table_prefix, meta=meta), ssh.db_name)
    ours = [tuple(line.split("\t")) for line in ssh_counts.splitlines()]
    assert ("posts", "page", "publish") in {row[:3] for row in ours}
    assert ours == main
    assert ssh.facts["postmeta_count"] == _postmeta_like_others(ssh_source)
    assert set(ssh.facts["media"]) == set(ssh_source.facts["media"])
    for kind in ("posts", "pages"):
        totals = [httpx.get(f"{url}/wp-json/wp/v2/{kind}").headers["x-wp-total"]
                  for url in (ssh_source.source.url, ssh.url)]
        assert totals[0] == totals[1], kind
    hero = ssh.facts["media"]["hero"]["file"]
    assert (Path(ssh.wp_content) / "uploads" / hero).stat().st_size == \
        (Path(ssh_source.source.wp_content) / "uploads" / hero).stat().st_size


def test_ssh_source_query_log_records_queries(ssh_source: SandboxState) -> None:
    ssh = _ssh(ssh_source)
    marker = f"wpsandbox_probe_{uuid.uuid4().hex}"
    build.ssh_source_sql(ssh_source, f"SELECT '{marker}'")
    assert any(marker in e.argument for e in build.ssh_source_query_log(ssh_source))

    build.reset_ssh_source_query_log(ssh_source)
    assert build.ssh_source_query_log(ssh_source) == []  # not even the reset's own session
    assert httpx.get(ssh.url + "/").status_code == 200
    entries = build.ssh_source_query_log(ssh_source)
    assert not any(marker in e.argument for e in entries)
    assert f"{ssh.db_user}@localhost" in query_log.users(entries).values()
    selects = [e for e in entries if e.command == "Query" and e.argument.startswith("SELECT")]
    assert any(f"FROM {ssh.table_prefix}options" in e.argument for e in selects)


def test_ssh_source_conf(ssh_source: SandboxState) -> None:
    ssh = _ssh(ssh_source)
    conf = mode_a_ssh_conf(ssh_source, "3f1c1e9e-9a57-4c1f-9d59-0d3b0e6d4a11")
    assert conf["source_url"] == ssh.url
    assert conf["source_access"] == {"route": "ssh", "sftp_conn_id": "wpm_source_sftp",
                                     "wp_root": ssh.docroot}
    today = mode_a_conf(ssh_source)
    assert conf["target"] == today["target"]
    assert "route" not in today["source_access"]  # the sftp_db conf stays as it was
    text = json.dumps(conf)
    for secret in (ssh.db_password, ssh.admin_password, ssh.db_socket):
        assert secret not in text


def test_up_ssh_source_reuses_and_down_stops_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A small sandbox of its own, so the shared one keeps running."""
    home = tmp_path_factory.mktemp("wpsandbox")
    try:
        state = build.up(postmeta_rows=100, home=home)
        assert state.ssh_source is None
        with_ssh = build.up_ssh_source(state)
        ssh = _ssh(with_ssh)
        assert state.ssh_source == ssh  # set in place as well
        assert load(home).ssh_source == ssh
        started = time.monotonic()
        assert build.up_ssh_source(load(home)).ssh_source == ssh  # healthy: reused
        assert time.monotonic() - started < 3
        assert build.up(home=home).created_at == state.created_at  # the main sandbox is untouched
        assert build.status(home)["ssh_source"]["socket_open"] is True

        build.down(home=home)
        for pid in ssh.pids:
            assert not _pids_of_group(pid), f"process group {pid} still has processes"
        assert not _port_open(ssh.port)
        with socket.socket(socket.AF_UNIX) as unix:
            assert unix.connect_ex(ssh.db_socket) != 0
    finally:
        build.down(home=home)
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------- the admin source


def _admin(state: SandboxState) -> AdminSource:
    assert state.admin_source is not None
    return state.admin_source


@contextlib.contextmanager
def _probe(admin: AdminSource, code: str) -> Iterator[str]:
    """A PHP file in the admin source's docroot (outside wp-content) for one test, then gone."""
    path = Path(admin.docroot) / f"wpsb-probe-{uuid.uuid4().hex}.php"
    path.write_text("<?php\n" + code)
    try:
        yield f"{admin.url}/{path.name}"
    finally:
        path.unlink()


@contextlib.contextmanager
def _wp_login(admin: AdminSource, user: str, password: str) -> Iterator[httpx.Client]:
    """A cookie session as wp-admin's login form makes it (test cookie first)."""
    with httpx.Client(base_url=admin.url, timeout=30) as client:
        client.get("/wp-login.php")
        resp = client.post("/wp-login.php", data={"log": user, "pwd": password, "wp-submit": "Log In",
                                                  "redirect_to": f"{admin.url}/wp-admin/", "testcookie": "1"})
        assert resp.status_code == 302, resp.text[:500]
        yield client


def test_admin_source_answers_over_http(admin_source: SandboxState) -> None:
    admin = _admin(admin_source)
    assert admin.url != admin_source.source.url
    resp = httpx.get(admin.url + "/")
    assert resp.status_code == 200
    assert '<meta name="generator" content="WordPress' in resp.text
    assert resp.headers["x-sandbox-mu"] == "1"
    assert httpx.get(admin.url + "/about-us/our-team/leadership/").status_code == 200
    assert admin.table_prefix == "wpadm_"
    tables = build.admin_source_sql(admin_source, "SHOW TABLES").split()
    assert f"{admin.table_prefix}options" in tables and all(t.startswith("wpadm_") for t in tables)
    # Seeded like the source (same scripts, same bulk postmeta).
    assert admin.facts["postmeta_count"] == _postmeta_like_others(admin_source)
    assert set(admin.facts["media"]) == set(admin_source.facts["media"])


def test_admin_source_php_limits_as_served(admin_source: SandboxState) -> None:
    admin = _admin(admin_source)
    assert admin.php_ini == {"max_execution_time": "5", "memory_limit": "64M"}
    code = ("$raw = [ini_get('max_execution_time'), ini_get('memory_limit')];\n"
            "define('WP_ADMIN', true);\n"
            "require __DIR__ . '/wp-load.php';\n"
            "require_once ABSPATH . 'wp-admin/includes/file.php';\n"
            "wp_raise_memory_limit('admin');  // what wp-admin/admin.php does\n"
            "echo json_encode(['raw' => $raw, 'admin_memory' => ini_get('memory_limit'),\n"
            "  'fs_method' => get_filesystem_method(),\n"
            "  'plugins_writable' => wp_is_writable(WP_PLUGIN_DIR)]);")
    with _probe(admin, code) as url:
        resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text[:500]
    assert resp.json() == {"raw": ["5", "64M"], "admin_memory": "64M", "fs_method": "direct",
                           "plugins_writable": True}


def test_admin_source_cuts_off_a_long_script(admin_source: SandboxState) -> None:
    """max_execution_time counts CPU time on Linux (setitimer ITIMER_PROF): a script that
    wants 7 s of CPU ends after 5 s of it with a fatal error, however loaded the machine is."""
    admin = _admin(admin_source)
    code = ("function cpu(): float { $u = getrusage();\n"
            "  return $u['ru_utime.tv_sec'] + $u['ru_utime.tv_usec'] / 1e6\n"
            "       + $u['ru_stime.tv_sec'] + $u['ru_stime.tv_usec'] / 1e6; }\n"
            "$t = cpu();\n"
            "while (cpu() - $t < 7) { hash('sha256', 'x'); }\n"
            "echo 'finished';")
    log = Path(admin.access_log)
    before = log.stat().st_size
    with _probe(admin, code) as url:
        started = time.monotonic()
        resp = httpx.get(url, timeout=120)
        took = time.monotonic() - started
    assert resp.status_code == 500, resp.text[:300]
    assert "finished" not in resp.text
    assert took > 4.5, took
    with log.open("rb") as f:  # what php -S logged for this request only
        f.seek(before)
        assert b"Maximum execution time of 5 seconds exceeded" in f.read()


def test_admin_source_holds_a_big_file(admin_source: SandboxState) -> None:
    admin = _admin(admin_source)
    path = Path(admin.wp_content) / admin.big_file
    assert admin.big_file.startswith("uploads/")
    assert path.stat().st_size == admin.big_file_size > 50_000_000
    on_disk = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            on_disk.update(block)
    assert on_disk.hexdigest() == admin.big_file_sha256
    with path.open("rb") as f:  # random, so no transfer compression saves anything
        head = f.read(1 << 20)
    assert len(zlib.compress(head)) > len(head) * 0.99
    served, size = hashlib.sha256(), 0
    with httpx.stream("GET", f"{admin.url}/wp-content/{admin.big_file}", timeout=60) as resp:
        assert resp.status_code == 200
        assert int(resp.headers["content-length"]) == admin.big_file_size
        for chunk in resp.iter_raw():
            served.update(chunk)
            size += len(chunk)
    assert (size, served.hexdigest()) == (admin.big_file_size, admin.big_file_sha256)


def test_admin_source_holds_a_big_option(admin_source: SandboxState) -> None:
    admin = _admin(admin_source)
    where = f"FROM {admin.table_prefix}options WHERE option_name = '{admin.big_option}'"
    row = build.admin_source_sql(
        admin_source, f"SELECT LENGTH(option_value), SHA2(option_value, 256), autoload, "
                      f"LEFT(option_value, 2) {where}").rstrip("\n").split("\t")
    assert row == [str(admin.big_option_size), admin.big_option_sha256, "no", "a:"]  # a serialized array
    assert admin.big_option_size > 5_000_000
    # Nothing in it for a URL rewrite to change: it must arrive as it is.
    value = build.admin_source_sql(admin_source, f"SELECT option_value {where}")
    assert admin.url.removeprefix("http://") not in value


def test_admin_source_logins(admin_source: SandboxState) -> None:
    admin = _admin(admin_source)
    with _wp_login(admin, admin.admin_user, admin.admin_password) as client:
        assert any(name.startswith("wordpress_logged_in_") for name in client.cookies)
        upload = client.get("/wp-admin/plugin-install.php", params={"tab": "upload"})
        assert upload.status_code == 200 and 'name="pluginzip"' in upload.text
    with _wp_login(admin, admin.editor_user, admin.editor_password) as client:
        assert any(name.startswith("wordpress_logged_in_") for name in client.cookies)
        refused = client.get("/wp-admin/plugin-install.php", params={"tab": "upload"})
        assert refused.status_code == 403 and 'name="pluginzip"' not in refused.text
    caps = dict(line.split("\t") for line in build.admin_source_sql(
        admin_source, f"SELECT u.user_login, m.meta_value FROM {admin.table_prefix}users u "
                      f"JOIN {admin.table_prefix}usermeta m ON m.user_id = u.ID "
                      f"WHERE m.meta_key = '{admin.table_prefix}capabilities'").splitlines())
    assert caps[admin.admin_user] == 'a:1:{s:13:"administrator";b:1;}'
    assert caps[admin.editor_user] == 'a:1:{s:6:"editor";b:1;}'
    # A wrong password gets no session.
    with httpx.Client(base_url=admin.url, timeout=30) as client:
        client.get("/wp-login.php")
        wrong = client.post("/wp-login.php", data={"log": admin.admin_user,
                                                   "pwd": "not-" + admin.admin_password, "testcookie": "1"})
        assert wrong.status_code == 200
        assert not any(name.startswith("wordpress_logged_in_") for name in client.cookies)


def test_admin_source_conf_and_connections(admin_source: SandboxState) -> None:
    admin = _admin(admin_source)
    conf = mode_a_admin_conf(admin_source, "3f1c1e9e-9a57-4c1f-9d59-0d3b0e6d4a11")
    assert conf["source_url"] == admin.url
    assert conf["source_access"] == {"route": "wp_admin", "wp_conn_id": SOURCE_ADMIN_CONN_ID}
    assert conf["target"] == mode_a_conf(admin_source)["target"]
    editor_conf = mode_a_admin_conf(admin_source, admin_conn_id=SOURCE_EDITOR_CONN_ID)
    assert editor_conf["source_access"]["wp_conn_id"] == "wpm_source_editor"
    for secret in (admin.admin_password, admin.editor_password, admin.db_password):
        assert secret not in json.dumps(conf) + json.dumps(editor_conf)
    conns = {k: json.loads(v) for k, v in connections(admin_source).items()}
    assert conns["wpm_source_admin"] == {"conn_type": "http", "host": admin.url,
                                         "login": admin.admin_user, "password": admin.admin_password,
                                         "extra": {"wpmigrate": {"tenant": "sandbox", "role": "source"}}}
    assert "extra" not in conns["wpmigrate_companion_key"]  # no conf may name the platform's key
    assert conns["wpm_source_editor"]["login"] == admin.editor_user
    assert "AIRFLOW_CONN_WPM_SOURCE_ADMIN" in airflow_connections(admin_source)


def test_restart_admin_source_php(admin_source: SandboxState) -> None:
    admin = _admin(admin_source)
    old_pid, port = admin.pid, admin.port
    got = 0
    # The download in flight is cut short.
    with (httpx.stream("GET", f"{admin.url}/wp-content/{admin.big_file}", timeout=60) as resp,
          pytest.raises(httpx.TransportError)):
        for chunk in resp.iter_raw(64 * 1024):
            if not got:
                build.restart_admin_source_php(admin_source)
            got += len(chunk)
    assert 0 < got < admin.big_file_size
    new = _admin(admin_source)
    assert new.pid != old_pid and new.port == port
    assert not _pids_of_group(old_pid)
    assert load().admin_source == new
    assert httpx.get(new.url + "/").status_code == 200
    with _probe(new, "echo ini_get('max_execution_time'), ' ', ini_get('memory_limit');") as url:
        assert httpx.get(url).text == "5 64M"  # the same settings after the restart


def test_up_admin_source_reuses_and_down_stops_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A small sandbox of its own, so the shared one keeps running."""
    home = tmp_path_factory.mktemp("wpsandbox")
    try:
        state = build.up(postmeta_rows=100, home=home)
        assert state.admin_source is None and "wpm_source_admin" not in connections(state)
        with pytest.raises(ValueError):
            mode_a_admin_conf(state)
        with_admin = build.up_admin_source(state)
        admin = _admin(with_admin)
        assert state.admin_source == admin  # set in place as well
        assert load(home).admin_source == admin
        assert len(_pids_of_group(admin.pid)) >= 2  # php -S master + workers
        started = time.monotonic()
        assert build.up_admin_source(load(home)).admin_source == admin  # healthy: reused
        assert time.monotonic() - started < 3
        assert build.up(home=home).created_at == state.created_at  # the main sandbox is untouched
        assert build.status(home)["admin_source"]["http_status"] == 200

        build.down(home=home)
        assert not _pids_of_group(admin.pid), "php -S still has processes"
        assert not _port_open(admin.port)
    finally:
        build.down(home=home)
        shutil.rmtree(home, ignore_errors=True)


# Blocks of the site editor's templates (and widget areas), not of a post's content: the
# seed's block posts leave them out. Everything else WordPress registers must be there.
TEMPLATE_ONLY_BLOCKS = re.compile(
    r"^core/(site-|post-|query|comment|comments|navigation|template-part|pattern|widget-group"
    r"|legacy-widget|avatar|home-link|read-more|term-description)")


def test_seed_holds_every_core_block_type_a_post_can_hold(sandbox: SandboxState) -> None:
    blocks = Path(sandbox.source.docroot) / "wp-includes" / "blocks"
    registered = {json.loads(f.read_text())["name"] for f in blocks.glob("*/block.json")}
    wanted = {name for name in registered if not TEMPLATE_ONLY_BLOCKS.match(name)}
    assert len(wanted) > 40 and "core/paragraph" in wanted
    conn = _reader(sandbox)
    try:
        ids = [sandbox.facts["block_posts"][k] for k in ("text", "media", "dynamic")]
        content = "\n".join(row[0] for row in _query(
            conn, "SELECT post_content FROM wpsrc_posts WHERE ID IN (%s, %s, %s)", *ids))
    finally:
        conn.close()
    used = {f"core/{m}" for m in re.findall(r"<!-- wp:([a-z][a-z0-9-]*)[ /-]", content)}
    # Two have no comment of their own: classic HTML between blocks (freeform) and a block
    # whose plugin is gone (missing), both held as they would be.
    used |= {"core/freeform"} if "[caption " in content else set()
    used |= {"core/missing"} if "<!-- wp:sandbox-gone/notice" in content else set()
    assert wanted - used == set()
    uploads = Path(sandbox.source.wp_content) / "uploads"
    # Real media behind the blocks that need it: a WAV, an MP4 and a PDF, by their magic bytes.
    for key, offset, magic in (("audio", 8, b"WAVE"), ("video", 4, b"ftyp"), ("file", 0, b"%PDF-")):
        head = (uploads / sandbox.facts["media"][key]["file"]).read_bytes()[:16]
        assert head[offset:offset + len(magic)] == magic, key


def test_classic_source_is_seeded_like_the_source_on_a_classic_theme(classic_source: SandboxState) -> None:
    classic = classic_source.classic_source
    assert classic is not None and classic.theme == "twentytwentyone"
    assert set(classic.facts["media"]) == set(classic_source.facts["media"])
    assert set(classic.facts["block_posts"]) == set(classic_source.facts["block_posts"])
    assert classic.facts["postmeta_count"] < 1000  # no bulk rows: Mode B reads what a visitor sees
    query = (f"SELECT option_value FROM {classic.table_prefix}options "
             "WHERE option_name IN ('template', 'stylesheet')")
    theme = build.classic_source_sql(classic_source, query)
    assert theme.split() == ["twentytwentyone", "twentytwentyone"]
    page = httpx.get(classic.url + "/", timeout=30)
    assert page.status_code == 200 and "/themes/twentytwentyone/" in page.text
    assert "wp-site-blocks" not in page.text  # no block theme's page wrapper
    started = time.monotonic()
    assert build.up_classic_source(load(Path(classic_source.home))).classic_source == classic  # reused
    assert time.monotonic() - started < 3
    assert build.status()["classic_source"]["http_status"] == 200
    conf = mode_b_conf(classic_source, "m-1", source_url=classic.url)
    assert conf["source_url"] == classic.url and conf["target"]["url"] == classic_source.target.url
