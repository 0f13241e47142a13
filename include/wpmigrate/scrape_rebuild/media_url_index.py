"""Mode B: which media URLs this run already fetched, kept in the artifact store.

``download_media`` is mapped over the scraped batches, and two batches often show the
same file (a logo, an image two posts share). One small entry per URL, under the sha256
of the URL, says what its fetch gave (the stored file, or why it was skipped) and which
batch fetched it. A batch asks the store before fetching, so each URL is fetched once per
run whichever worker runs which batch (the Celery topology shares nothing else), and
nothing is held in memory but the entry at hand. The DAG runs one ``download_media`` of a
run at a time, so no two batches ask for one URL at once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from wpmigrate.core.storage import StoragePath
from wpmigrate.scrape_rebuild.records import MediaFile, Skipped, from_dict, to_json

_FILE, _SKIPPED = "file", "skipped"


@dataclass
class Fetched:
    """A URL's fetch as a batch recorded it."""

    batch: str
    record: MediaFile | Skipped


class MediaUrlIndex:
    """``root``: this run's folder of entries; ``batch``: the batch asking (its retry finds
    its own entries and records them again, fetching nothing)."""

    def __init__(self, root: StoragePath, batch: str) -> None:
        self.root = root
        self.batch = batch
        self.root.mkdir(parents=True, exist_ok=True)

    def _entry(self, url: str) -> StoragePath:
        return self.root / hashlib.sha256(url.encode("utf-8")).hexdigest()

    def get(self, url: str) -> Fetched | None:
        entry = self._entry(url)
        if not entry.exists():
            return None
        with entry.open("rb") as stream:
            data = json.loads(stream.read())
        record: MediaFile | Skipped = (from_dict(MediaFile, data["record"]) if data["kind"] == _FILE
                                       else from_dict(Skipped, data["record"]))
        return Fetched(batch=data["batch"], record=record)

    def put(self, url: str, record: MediaFile | Skipped) -> None:
        kind = _FILE if isinstance(record, MediaFile) else _SKIPPED
        body = json.dumps({"batch": self.batch, "kind": kind, "record": json.loads(to_json(record))})
        # Written whole, then renamed: a task killed mid-write leaves no half entry.
        tmp = self.root / f".part-{uuid.uuid4().hex}"
        with tmp.open("wb") as out:
            out.write(body.encode("utf-8"))
        tmp.replace(self._entry(url))
