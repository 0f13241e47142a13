"""The source's database by route, through the plugin's hooks and real Airflow connections
(environment variables), against the sandbox: the ssh source's MariaDB has no TCP port, so
the ``ssh`` route can only reach it through the SSH login."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import MySQLdb
import pytest

from wpmigrate.core.conf import load_conf
from wpmigrate.core.conf_model import FullAccessConf
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate_airflow.source_routes import SftpDbRoute, route_for
from wpsandbox import state as sandbox_state

pytestmark = pytest.mark.sandbox


@pytest.fixture
def connections(ssh_source, monkeypatch):
    for name, value in sandbox_state.airflow_connections(ssh_source).items():
        monkeypatch.setenv(name, value)
    return ssh_source


def _rows(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def source_database(conf: dict):
    """The route's read-only database session, as the tasks open it."""
    route = route_for(load_conf(FullAccessConf, conf))
    assert isinstance(route, SftpDbRoute)  # the ssh route is one too
    return route.database()


def test_ssh_route_reads_wp_config_and_reaches_a_socket_only_database(connections) -> None:
    sb = connections
    assert sb.ssh_source is not None
    conf = sandbox_state.mode_a_ssh_conf(sb)
    with source_database(conf) as conn:
        assert _rows(conn, "SELECT @@skip_networking") == [(1,)]
        (count,) = _rows(conn, "SELECT COUNT(*) FROM wpssh_posts")[0]
        assert count > 0
        # wp-config's user may write; the session may not.
        with pytest.raises(MySQLdb.OperationalError) as refused:
            _rows(conn, "INSERT INTO wpssh_options (option_name, option_value) VALUES ('wpm_probe', 'x')")
        assert refused.value.args[0] == 1792


def test_sftp_db_sessions_are_read_only_too(connections) -> None:
    conf = sandbox_state.mode_a_conf(connections)
    with source_database(conf) as conn, pytest.raises(MySQLdb.OperationalError) as refused:
        _rows(conn, "CREATE TEMPORARY TABLE wpm_probe (i INT)")
    assert refused.value.args[0] == 1792


def test_a_named_connection_replaces_wp_config_on_the_ssh_route(connections, monkeypatch) -> None:
    sb = connections
    assert sb.ssh_source is not None
    monkeypatch.setenv("AIRFLOW_CONN_WPM_SSH_NAMED_DB", json.dumps({
        "conn_type": "mysql", "host": "localhost", "login": sb.ssh_source.db_user,
        "password": sb.ssh_source.db_password, "schema": sb.ssh_source.db_name,
        "extra": {"unix_socket": sb.ssh_source.db_socket}}))
    conf = sandbox_state.mode_a_ssh_conf(sb)
    conf["source_access"]["db_conn_id"] = "wpm_ssh_named_db"
    # wp-config is not read at all: point wp_root somewhere without one.
    conf["source_access"]["wp_root"] = "/nonexistent-wp-root"
    with source_database(conf) as conn:
        assert _rows(conn, "SELECT DATABASE()") == [(sb.ssh_source.db_name.encode(),)]


def _config_copy(sb, tmp_path: Path, replace: tuple[str, str]) -> Path:
    assert sb.ssh_source is not None
    text = (Path(sb.ssh_source.docroot) / "wp-config.php").read_text()
    old, new = replace
    assert old in text
    root = tmp_path / "www"
    root.mkdir()
    (root / "wp-config.php").write_text(text.replace(old, new))
    return root


def test_a_config_from_the_environment_names_the_way_out(connections, tmp_path) -> None:
    sb = connections
    assert sb.ssh_source is not None
    password = sb.ssh_source.db_password
    root = _config_copy(sb, tmp_path, (f"define( 'DB_NAME', '{sb.ssh_source.db_name}' );",
                                       "define( 'DB_NAME', getenv('DB_NAME') );"))
    conf = sandbox_state.mode_a_ssh_conf(sb)
    conf["source_access"]["wp_root"] = str(root)
    with pytest.raises(MigrationError) as failed, source_database(conf):
        pass
    assert failed.value.code == ErrorCode.INVALID_CONF and failed.value.permanent
    assert "db_conn_id" in failed.value.message and "DB_NAME" in failed.value.message
    assert password not in str(failed.value.to_dict())
    shutil.rmtree(root)


def test_a_database_that_is_not_there_is_unreachable(connections, tmp_path) -> None:
    sb = connections
    assert sb.ssh_source is not None
    root = _config_copy(sb, tmp_path, (sb.ssh_source.db_socket, "/nonexistent/mysqld.sock"))
    conf = sandbox_state.mode_a_ssh_conf(sb)
    conf["source_access"]["wp_root"] = str(root)
    with pytest.raises(MigrationError) as failed, source_database(conf):
        pass
    assert failed.value.code == ErrorCode.SOURCE_UNREACHABLE
    assert "/nonexistent" not in failed.value.message  # wp-config values stay out of messages
