"""The tenant wall, through real Airflow connections (``AIRFLOW_CONN_*`` environment
variables, read by the Task SDK's secrets backends): a conf reaches only its own tenant's
connections, in the role of the field naming them, and the target's credentials only the
target's own site."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wpmigrate.core.conf import load_conf
from wpmigrate.core.conf_model import FullAccessConf, ScrapeRebuildConf
from wpmigrate.core.errors import ErrorCode, MigrationError
from wpmigrate_airflow.tenant_wall import check_connections

UUID = "6f1c1a86-4a57-4c1e-9a43-3f3b6f0b0c11"
TARGET = "https://t1-site.platform.example"
SECRET = "s3cr3t-password-never-shown"


def _conn(conn_type: str, tenant: str | None, role: str | None, *, host: str = "db.example",
          site: str | None = None, **extra: Any) -> str:
    mark = {k: v for k, v in {"tenant": tenant, "role": role, "site": site}.items() if v is not None}
    return json.dumps({"conn_type": conn_type, "host": host, "login": "u", "password": SECRET,
                       "extra": {**extra, **({"wpmigrate": mark} if mark else {})}})


CONNECTIONS = {
    "t1_sftp": _conn("sftp", "t1", "source"),
    "t1_db": _conn("mysql", "t1", "source"),
    "t1_admin": _conn("http", "t1", "source", host="https://old.example.com"),
    "t1_manual": _conn("generic", "t1", "source"),
    "t1_target_db": _conn("mysql", "t1", "target", site=TARGET),
    "t1_target_wp": _conn("http", "t1", "target", host=TARGET),
    "t2_db": _conn("mysql", "t2", "source"),
    "t2_target_wp": _conn("http", "t2", "target", host="https://t2-site.platform.example"),
    "t1_target_nosite_db": _conn("mysql", "t1", "target"),
    "unmarked_db": _conn("mysql", None, None),
    "airflow_db": _conn("mysql", None, None),
    "aws_default": _conn("aws", None, None),
    "wpmigrate_companion_key": _conn("generic", "t1", "source"),  # even if someone marked it
    "bad_extra": json.dumps({"conn_type": "mysql", "host": "h", "extra": "not json {"}),
}


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> None:
    for conn_id, value in CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)


def _mode_a(access: dict[str, Any] | None = None, **target: Any) -> FullAccessConf:
    return load_conf(FullAccessConf, {
        "migration_id": UUID, "tenant_id": "t1", "source_url": "https://old.example.com",
        "source_access": access or {"sftp_conn_id": "t1_sftp", "db_conn_id": "t1_db", "wp_root": "/srv"},
        "target": {"provisioner": "existing", "url": TARGET, "db_conn_id": "t1_target_db",
                   "wp_content_uri": "file:///srv/wp-content", "wp_conn_id": "t1_target_wp", **target}})


def _mode_b(**target: Any) -> ScrapeRebuildConf:
    return load_conf(ScrapeRebuildConf, {
        "migration_id": UUID, "tenant_id": "t1", "source_url": "https://old.example.com",
        "target": {"provisioner": "existing", "url": TARGET, "wp_conn_id": "t1_target_wp", **target}})


def _refused(conf: Any) -> MigrationError:
    with pytest.raises(MigrationError) as refused:
        check_connections(conf)
    err = refused.value
    assert err.code is ErrorCode.INVALID_CONF and err.permanent
    assert SECRET not in err.message and SECRET not in json.dumps(err.to_dict())
    return err


def test_a_conf_naming_its_own_tenants_connections_passes() -> None:
    check_connections(_mode_a())
    check_connections(_mode_a({"route": "wp_admin", "wp_conn_id": "t1_admin"}))
    check_connections(_mode_a({"route": "wp_admin", "companion_conn_id": "t1_manual"}))
    check_connections(_mode_b())


@pytest.mark.parametrize("field", ["sftp_conn_id", "db_conn_id"])
@pytest.mark.parametrize("conn_id", ["t1_target_db", "t1_target_wp", "t2_db", "unmarked_db", "airflow_db",
                                     "aws_default", "bad_extra", "not_defined_anywhere"])
def test_a_source_field_takes_only_the_tenants_source_connections(field: str, conn_id: str) -> None:
    access = {"sftp_conn_id": "t1_sftp", "db_conn_id": "t1_db", "wp_root": "/srv", field: conn_id}
    err = _refused(_mode_a(access))
    assert f"source_access.{field}" in err.message and err.details["field"] == f"source_access.{field}"


@pytest.mark.parametrize("field", ["wp_conn_id", "companion_conn_id"])
def test_the_companion_key_can_never_be_named(field: str) -> None:
    err = _refused(_mode_a({"route": "wp_admin", field: "wpmigrate_companion_key"}))
    assert "companion key" in err.message


@pytest.mark.parametrize(("target", "why"), [
    ({"db_conn_id": "t1_db"}, "tenant"),                       # the tenant's source, not a target
    ({"db_conn_id": "airflow_db"}, "tenant"),                  # the platform's own
    ({"wp_conn_id": "t2_target_wp"}, "tenant"),                # another tenant's target
    ({"db_conn_id": "t1_target_nosite_db"}, "names no site"),  # a target with no site written down
    ({"url": "https://collector.example"}, "another site"),    # credentials would go elsewhere
    ({"url": "http://169.254.169.254"}, "another site"),
    ({"url": TARGET.replace("https", "http")}, "another site"),  # same host, other origin
])
def test_target_fields_take_only_the_tenants_target_connections_of_target_url(target, why) -> None:
    assert why in _refused(_mode_a(**target)).message


def test_mode_b_target_url_must_be_its_connections_site() -> None:
    assert "another site" in _refused(_mode_b(url="http://127.0.0.1:9")).message
    assert "tenant" in _refused(_mode_b(wp_conn_id="t2_target_wp")).message


def test_the_sites_origin_is_compared_not_its_spelling() -> None:
    check_connections(_mode_b(url=TARGET.upper().replace("HTTPS", "https") + ":443/"))
