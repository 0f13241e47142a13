"""Retries per operation, from seed 000 section 9.2.

``WPMIGRATE_RETRY_DELAY_SCALE`` shrinks the delays (the test Airflow uses 0.1) without
changing how many retries there are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    delay_seconds: float
    exponential: bool = False

    def scaled_delay(self) -> timedelta:
        scale = float(os.environ.get("WPMIGRATE_RETRY_DELAY_SCALE", "1"))
        return timedelta(seconds=self.delay_seconds * scale)


# Source validation retries inside the probe (1 s, 2 s, 4 s) and then fails for good:
# a task-level retry would only repeat a permanent answer.
POLICIES: dict[str, RetryPolicy] = {
    "validate_source": RetryPolicy(0, 1),
    "provision_target": RetryPolicy(2, 30),
    "export_database": RetryPolicy(2, 30),
    "export_files": RetryPolicy(2, 60),
    # Removing the companion plugin retries inside (it never fails the run).
    "release_source": RetryPolicy(1, 10),
    "import_database": RetryPolicy(2, 30),
    "import_files": RetryPolicy(2, 30),
    "verify": RetryPolicy(1, 30),
    # Mode B: the source is a public web site, so a fetch step is retried like an export.
    "discover": RetryPolicy(2, 60),
    "scrape_content": RetryPolicy(2, 60),
    "download_media": RetryPolicy(2, 60),
    "scrape_comments": RetryPolicy(2, 60),
    "match_theme": RetryPolicy(2, 30),
    "build_site": RetryPolicy(2, 30),
    "import_content": RetryPolicy(2, 30),
    "notify": RetryPolicy(5, 2, exponential=True),
    "cleanup": RetryPolicy(2, 10),
}
