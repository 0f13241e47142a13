"""DB_HOST forms to the places the ssh route looks for the source's database."""

from __future__ import annotations

from wpmigrate.full_access.db.connect import DbParams
from wpmigrate.full_access.db.source_endpoint import (
    DEFAULT_SOCKETS,
    connection_destinations,
    destinations,
)
from wpmigrate.full_access.db.ssh_tunnel import SocketDestination, TcpDestination
from wpmigrate.full_access.wp_config import parse_db_host


def test_tcp_hosts_are_one_destination_with_their_port() -> None:
    assert destinations(parse_db_host("127.0.0.1")) == [TcpDestination("127.0.0.1", 3306)]
    assert destinations(parse_db_host("db.internal:3307")) == [TcpDestination("db.internal", 3307)]
    assert destinations(parse_db_host("[::1]:3308")) == [TcpDestination("::1", 3308)]


def test_a_socket_path_is_used_as_given() -> None:
    found = destinations(parse_db_host("localhost:/srv/db/mysqld.sock"))
    assert found == [SocketDestination("/srv/db/mysqld.sock")]


def test_bare_localhost_tries_the_usual_sockets_then_tcp() -> None:
    found = destinations(parse_db_host("localhost"))
    assert found[: len(DEFAULT_SOCKETS)] == [SocketDestination(p) for p in DEFAULT_SOCKETS]
    assert found[-1] == TcpDestination("127.0.0.1", 3306)
    # mysqli ignores a port next to "localhost": still the socket.
    assert destinations(parse_db_host("localhost:3307"))[0] == SocketDestination(DEFAULT_SOCKETS[0])


def test_a_named_connection_keeps_its_address() -> None:
    tcp = DbParams(host="10.0.0.5", port=3310, user="u", password="p", database="d")
    assert connection_destinations(tcp) == [TcpDestination("10.0.0.5", 3310)]
    sock = DbParams(host="localhost", port=0, user="u", password="p", database="d", unix_socket="/s.sock")
    assert connection_destinations(sock) == [SocketDestination("/s.sock")]
