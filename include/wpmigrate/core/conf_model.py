"""The run conf as the tasks see it: frozen, typed, every schema default filled in.

Built only by ``wpmigrate.core.conf.load_conf`` from a conf the schema accepted, so no
field here restates a default: a field the schema gives a default has none here, and a
field without one is ``None`` when the conf leaves it out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Literal, TypeVar, get_type_hints

Route = Literal["sftp_db", "ssh", "wp_admin"]
SFTP_DB: Route = "sftp_db"
SSH: Route = "ssh"
WP_ADMIN: Route = "wp_admin"

# The roles a named connection plays (see docs/portal-contract.md, "The tenant wall").
SOURCE_ROLE = "source"
TARGET_ROLE = "target"

T = TypeVar("T")


def from_filled(cls: type[T], raw: Mapping[str, Any]) -> T:
    """``cls`` from the filled conf object ``raw``: lists become tuples, nested objects
    their own dataclasses; a field the conf leaves out (no schema default) is ``None``."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        value = raw.get(f.name)
        kind = hints[f.name]
        if isinstance(kind, type) and is_dataclass(kind) and isinstance(value, Mapping):
            value = from_filled(kind, value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


@dataclass(frozen=True)
class NamedConnection:
    """A connection id a conf names, with the conf field (``target.db_conn_id``) and the role
    the connection must be marked for."""

    field: str
    conn_id: str
    role: str


@dataclass(frozen=True)
class Notify:
    emails: tuple[str, ...]
    webhook_url: str | None



@dataclass(frozen=True)
class SourceAccess:
    route: Route
    sftp_conn_id: str | None
    db_conn_id: str | None
    wp_conn_id: str | None
    companion_conn_id: str | None
    wp_root: str | None
    wp_content_dir: str | None
    table_prefix: str | None


    @property
    def root(self) -> str:
        """``wp_root`` without its trailing slash (``/`` stays ``/``); the schema requires it
        on the routes that read files by path."""
        assert self.wp_root is not None, "wp_root is required on this route (schema)"
        return self.wp_root.rstrip("/") or "/"


@dataclass(frozen=True)
class FullAccessTargetConf:
    provisioner: str
    url: str
    db_conn_id: str
    wp_conn_id: str | None
    wp_content_uri: str
    table_prefix: str
    service_users: tuple[str, ...]
    preserve_options: tuple[str, ...]



@dataclass(frozen=True)
class FullAccessOptions:
    rewrite_guid: bool
    rewrite_serialized_keys: bool



@dataclass(frozen=True)
class _RunConf:
    """What both modes' confs share."""

    contract_version: int
    migration_id: str
    tenant_id: str
    source_url: str
    schedule: str
    notify: Notify
    dry_run: bool


@dataclass(frozen=True)
class FullAccessConf(_RunConf):
    mode: ClassVar[str] = "full_access"
    source_access: SourceAccess
    target: FullAccessTargetConf
    options: FullAccessOptions


    def named_connections(self) -> list[NamedConnection]:
        access, target = self.source_access, self.target
        named = [NamedConnection(f"source_access.{name}", conn_id, SOURCE_ROLE)
                 for name in ("sftp_conn_id", "db_conn_id", "wp_conn_id", "companion_conn_id")
                 if (conn_id := getattr(access, name))]
        named.append(NamedConnection("target.db_conn_id", target.db_conn_id, TARGET_ROLE))
        if target.wp_conn_id:
            named.append(NamedConnection("target.wp_conn_id", target.wp_conn_id, TARGET_ROLE))
        return named


@dataclass(frozen=True)
class ContentScope:
    include_pages: bool
    include_posts: bool
    include_media: bool
    include_comments: bool
    max_depth: int



@dataclass(frozen=True)
class ScrapeRebuildTargetConf:
    provisioner: str
    url: str
    wp_conn_id: str



@dataclass(frozen=True)
class ScrapeRebuildConf(_RunConf):
    mode: ClassVar[str] = "scrape_rebuild"
    content_scope: ContentScope
    theme_preference: str
    selected_theme: str | None
    allow_non_wordpress: bool
    target: ScrapeRebuildTargetConf


    def named_connections(self) -> list[NamedConnection]:
        return [NamedConnection("target.wp_conn_id", self.target.wp_conn_id, TARGET_ROLE)]


RunConf = FullAccessConf | ScrapeRebuildConf
