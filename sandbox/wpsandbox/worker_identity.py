"""``[core] hostname_callable`` of the topology's Celery workers: each one names itself as
if it ran on a machine of its own (``WPMIGRATE_WORKER_HOSTNAME``), so a task instance's
``hostname`` says which worker ran it."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("WPMIGRATE_WORKER_HOSTNAME") or socket.getfqdn()
