"""The production topology (sandbox/wpsandbox/topology.py) started for these tests and
stopped afterwards: PostgreSQL, Redis, two Celery workers, S3 artifacts and Secrets Manager
credentials. moto's server stands in for AWS, which cannot run here."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from wpsandbox import state as sandbox_state
from wpsandbox import topology
from wpsandbox.portal_client import AirflowRest


@pytest.fixture(scope="session")
def topo(sandbox) -> Iterator[topology.Topology]:
    # Connections live in (moto's) Secrets Manager only: no AIRFLOW_CONN_* anywhere.
    conns = {k: json.loads(v) for k, v in sandbox_state.connections(sandbox).items()}
    started = topology.up(conns, {
        "WPMIGRATE_ALLOWED_SOURCE_NETWORKS": "127.0.0.0/8",  # the sandbox is on loopback
        "WPMIGRATE_RETRY_DELAY_SCALE": "0.1",
    })
    yield started
    if not os.environ.get("WPMIGRATE_KEEP_TOPOLOGY"):
        topology.down()


@pytest.fixture(scope="session")
def topo_rest(topo) -> AirflowRest:
    return AirflowRest(topo.url, topo.username, topo.password)
