"""The wp_admin route's plugin handling from the DAG's side (``wpmigrate_airflow.companion_access``),
through real Airflow connections (environment variables) against the sandbox's admin source:
install, reach, reinstall after it went away, and a removal the source refuses, which is
reported with the way out instead of failing the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.admin_source import snapshot, warm_up
from wpmigrate.core.conf import load_conf
from wpmigrate.core.conf_model import FullAccessConf
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate.full_access.companion.package import PLUGIN_DIR
from wpmigrate_airflow import companion_access
from wpsandbox import source_switches
from wpsandbox import state as sandbox_state

pytestmark = pytest.mark.sandbox


def _admin_conf(sb, **access: str) -> FullAccessConf:
    """The sandbox's wp_admin conf, typed as the tasks get it; ``access`` replaces its
    source_access fields."""
    raw = sandbox_state.mode_a_admin_conf(sb)
    raw["source_access"] = {k: v for k, v in {**raw["source_access"], **access}.items() if v}
    return load_conf(FullAccessConf, raw)


@pytest.fixture
def admin(admin_source, monkeypatch):
    for name, value in sandbox_state.airflow_connections(admin_source).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WPMIGRATE_ALLOWED_SOURCE_NETWORKS", "127.0.0.0/8")
    warm_up(admin_source)
    assert admin_source.admin_source is not None
    plugin_dir = Path(admin_source.admin_source.wp_content) / "plugins" / PLUGIN_DIR
    yield admin_source, plugin_dir
    if plugin_dir.exists():  # whatever a failed test left: off the source again
        companion_access.remove(_admin_conf(admin_source))
    assert not plugin_dir.exists()


def test_install_reach_and_remove(admin) -> None:
    sb, plugin_dir = admin
    conf = _admin_conf(sb)
    companion_access.install(conf)
    assert (plugin_dir / "secret.php").is_file()
    with companion_access.companion(conf) as (client, pre):
        assert pre["table_prefix"] == sb.admin_source.table_prefix
        assert client.requests == 1
    assert companion_access.remove(conf) == {"route": "wp_admin", "companion": "removed", "removed": True}
    assert not plugin_dir.exists()
    assert companion_access.remove(conf)["companion"] == "absent"  # idempotent


def test_export_installs_it_again_when_it_went_away(admin) -> None:
    sb, plugin_dir = admin
    conf = _admin_conf(sb)
    companion_access.install(conf)
    companion_access.remove(conf)  # e.g. taken off while the run waited for its window
    with companion_access.companion(conf) as (_client, pre):
        assert pre["wp_version"]
    assert plugin_dir.is_dir()
    with pytest.raises(MigrationError) as gone:  # without a login nothing reinstalls it
        companion_access.remove(conf)
        with companion_access.companion(conf, reinstall=False):
            pass
    assert gone.value.details.get("reason") == "not_answering"


def test_a_refused_removal_is_reported_with_the_way_out(admin) -> None:
    sb, plugin_dir = admin
    conf = _admin_conf(sb)
    companion_access.install(conf)
    with source_switches.disallow_file_mods(sb.admin_source.docroot):
        released = companion_access.remove(conf)
    assert released["removed"] is False and released["companion"] == "left_installed"
    assert PLUGIN_DIR in released["action_needed"] and released["error"]
    # Deactivation went through before the delete was refused: the secret is gone, so the
    # plugin left behind answers nothing.
    assert plugin_dir.is_dir() and not (plugin_dir / "secret.php").exists()
    with pytest.raises(MigrationError) as silent, companion_access.companion(conf, reinstall=False):
        pass
    assert silent.value.code is ErrorCode.EXPORT_FAILED and silent.value.details["reason"] == "not_answering"
    assert companion_access.remove(conf)["removed"] is True
    assert not plugin_dir.exists()


def test_the_manual_install_needs_no_login(admin) -> None:
    sb, _ = admin
    conf = _admin_conf(sb, wp_conn_id="", companion_conn_id=sandbox_state.MANUAL_COMPANION_CONN_ID)
    assert companion_access.is_manual(conf)
    released = companion_access.remove(conf)
    assert released["companion"] == "manual" and not released["removed"]
    assert "by hand" in released["action_needed"]
    before = snapshot(sb)
    with pytest.raises(MigrationError) as absent, companion_access.companion(conf):
        pass  # not installed by hand yet: no login to install it with
    assert absent.value.details["reason"] == "not_answering"
    assert snapshot(sb) == before


def test_wp_admin_with_sftp_takes_files_over_sftp_and_the_database_through_the_plugin(
        admin, monkeypatch, tmp_path) -> None:
    """The task bodies themselves (no scheduler): the conf names an SFTP login besides the
    administrator's, so wp-content comes over SFTP from where WordPress says it is."""
    from wpmigrate_airflow import full_access as fa

    sb, plugin_dir = admin
    monkeypatch.setenv("WPMIGRATE_ARTIFACTS_ROOT", tmp_path.as_uri())
    conf = _admin_conf(sb, sftp_conn_id=sandbox_state.SOURCE_SFTP_CONN_ID)
    source = fa.validate_source(conf)
    assert plugin_dir.is_dir()  # installed by validate_source, the run goes on at once
    assert source["wp_content_dir"] == sb.admin_source.wp_content.rstrip("/")
    assert source["table_prefix"] == sb.admin_source.table_prefix
    files = fa.export_files(conf, source)
    assert files.get("route") != "wp_admin" and files["files"] > 400  # the SFTP exporter's summary
    db = fa.export_database(conf, source)
    assert db["rows"] > 50_000
    released = fa.release_source(conf)
    assert released == {"route": "wp_admin", "companion": "removed", "removed": True}
    assert not plugin_dir.exists()
