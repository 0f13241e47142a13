"""Where a source's database listens, as the source machine sees it: wp-config's
``DB_HOST`` (parsed by ``full_access.wp_config``) or a named connection's address, turned
into the tunnel destinations to try, in order."""

from __future__ import annotations

from wpmigrate.full_access.db.connect import DbParams
from wpmigrate.full_access.db.ssh_tunnel import Destination, SocketDestination, TcpDestination
from wpmigrate.full_access.wp_config import DbEndpoint

# "localhost" without a socket path makes mysqli use php.ini's default socket, which is
# where the distribution's server puts it: Debian/Ubuntu (both spellings of /run), RHEL and
# cPanel hosts, then old and hand-built servers. A server that listens on TCP only comes last.
DEFAULT_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/var/lib/mysql/mysql.sock",
                   "/tmp/mysql.sock")
DEFAULT_PORT = 3306


def destinations(endpoint: DbEndpoint) -> list[Destination]:
    if endpoint.kind == "tcp":
        return [TcpDestination(endpoint.host, endpoint.port or DEFAULT_PORT)]
    if endpoint.socket:
        return [SocketDestination(endpoint.socket)]
    return [*(SocketDestination(path) for path in DEFAULT_SOCKETS), TcpDestination("127.0.0.1", DEFAULT_PORT)]


def connection_destinations(params: DbParams) -> list[Destination]:
    """A named database connection on the ``ssh`` route: its address is the source's view."""
    if params.unix_socket:
        return [SocketDestination(params.unix_socket)]
    return [TcpDestination(params.host, params.port or DEFAULT_PORT)]
