"""MariaDB's general query log (``--general-log --log-output=FILE``), read back as entries,
so a test can see every statement a server received and from which connection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# "261201 19:55:44\t    5 Query\tSELECT 1" or, within the same second, "\t\t    5 Query\t...".
# A statement with newlines goes on over the following lines, which match neither form.
_ENTRY = re.compile(r"^(?:\d{6}\s+\d{1,2}:\d{2}:\d{2})?\s+(\d+) ([A-Z][A-Za-z ]*?)\t(.*)$")
# The server writes a banner of three lines each time it opens the file.
_BANNER = re.compile(r"^(\S+, Version: .* started with:|Tcp port: \d+ .*|Time\s+Id\s+Command\s+Argument)$")


@dataclass
class LogEntry:
    thread_id: int  # the connection (CONNECTION_ID())
    command: str  # Connect, Query, Init DB, Prepare, Execute, Quit, ...
    argument: str  # the statement; for Connect "user@host on db using Socket"


def parse(text: str) -> list[LogEntry]:
    entries: list[LogEntry] = []
    for line in text.splitlines():
        match = _ENTRY.match(line)
        if match:
            entries.append(LogEntry(int(match[1]), match[2], match[3]))
        elif entries and not _BANNER.match(line):
            entries[-1].argument += "\n" + line
    return entries


def read(path: Path) -> list[LogEntry]:
    return parse(path.read_text(encoding="utf-8", errors="replace")) if path.exists() else []


def users(entries: list[LogEntry]) -> dict[int, str]:
    """Thread id -> the user it logged in as ("wpssh_site@localhost")."""
    return {e.thread_id: e.argument.split(" ", 1)[0] for e in entries if e.command == "Connect"}
