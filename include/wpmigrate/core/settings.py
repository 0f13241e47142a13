"""Service-wide settings, read from the environment (never from a run's conf)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in raw.split(",") if p.strip())


@dataclass(frozen=True)
class Settings:
    # Where artifacts go: file:// locally, s3:// in production.
    artifacts_root: str = "file:///tmp/wpmigrate-artifacts"
    # Networks a source URL may resolve to although they are not public. Empty by
    # default: production refuses loopback/private/link-local sources (SSRF).
    allowed_source_networks: tuple = field(default_factory=tuple)
    # Networks the portal's webhook may resolve to besides those (the portal may live on the
    # platform's private network). Empty by default.
    allowed_webhook_networks: tuple = field(default_factory=tuple)
    # Off-peak window, local time of off_peak_timezone, "HH:MM-HH:MM" (may wrap midnight).
    off_peak_window: str = "22:00-06:00"
    off_peak_timezone: str = "UTC"
    # The Airflow connection whose password is the platform's companion key (wp_admin
    # route): each migration's plugin secret is derived from it.
    companion_key_conn_id: str = "wpmigrate_companion_key"

    @property
    def webhook_networks(self) -> tuple:
        """Where a webhook may go although not public: the source networks and the webhook's own."""
        return (*self.allowed_source_networks, *self.allowed_webhook_networks)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            artifacts_root=env.get("WPMIGRATE_ARTIFACTS_ROOT", cls.artifacts_root),
            allowed_source_networks=_networks(env.get("WPMIGRATE_ALLOWED_SOURCE_NETWORKS", "")),
            allowed_webhook_networks=_networks(env.get("WPMIGRATE_ALLOWED_WEBHOOK_NETWORKS", "")),
            off_peak_window=env.get("WPMIGRATE_OFF_PEAK_WINDOW", cls.off_peak_window),
            off_peak_timezone=env.get("WPMIGRATE_OFF_PEAK_TZ", cls.off_peak_timezone),
            companion_key_conn_id=env.get("WPMIGRATE_COMPANION_KEY_CONN_ID", cls.companion_key_conn_id),
        )
