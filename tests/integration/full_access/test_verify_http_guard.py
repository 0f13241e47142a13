"""Issue 10 item 4: verify's HTTP check reaches the configured target whatever its address,
but does not follow it anywhere the SSRF guard refuses (a hostile or broken target that
redirects every page to an internal address). Real servers on 127.0.0.1 and 127.0.0.2; the
source side is the sandbox's source database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.local_http import recording_server
from wpmigrate.full_access.db.connect import DbParams, connect
from wpmigrate.full_access.verify.verifier import verify_full_access


def _reader(sb: Any) -> Any:
    return connect(DbParams(host=sb.db.host, port=sb.db.port, user=sb.db.reader_user,
                            password=sb.db.reader_password, database=sb.db.source_db))


@pytest.mark.sandbox
def test_http_check_is_not_redirected_to_an_internal_address(sandbox: Any) -> None:
    with recording_server("127.0.0.1") as target, recording_server("127.0.0.2") as internal:
        target.default = (302, {"Location": internal.url("/latest/meta-data/")}, b"")
        conn = _reader(sandbox)
        try:
            report = verify_full_access(
                source_conn=conn, target_conn=conn,
                source_prefix=sandbox.source.table_prefix, target_prefix=sandbox.source.table_prefix,
                old_origins=[], target_url=target.url("/"), files_manifest=None, target_wp_content=None,
                checks=["http"])
        finally:
            conn.close()
    assert internal.seen == []  # no hop reached the internal address
    assert target.seen  # while the target itself, on loopback, was reached
    http = report["sections"]["http"]
    assert not report["ok"] and http["checked"] >= 5
    reasons = {p["reason"] for p in http["problems"]}
    assert reasons and all(r.startswith("refused by the address guard") for r in reasons), reasons
    assert any("127.0.0.2" in r for r in reasons)
