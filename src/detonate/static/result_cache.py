"""Static results that depend only on a file's bytes, kept on disk by the file's sha256.

One SQLite table, one row per (sha256, analyzer, analyzer version, ruleset hash): a changed rule
or a new analyzer version misses exactly the rows it must, and old rows are simply never read
again (pruning is the cache's job, not ours). Safe under concurrent scans (WAL, busy timeout);
a database that is not one (a truncated or overwritten file) is moved aside and rebuilt.

    <cache-dir>/results/static.sqlite3
      results(sha256 TEXT, analyzer TEXT, version TEXT, ruleset TEXT, value TEXT JSON)
      counters(analyzer TEXT, hits INTEGER, misses INTEGER)   -- over all scans, for stats
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "static.sqlite3"
BUSY_TIMEOUT_MS = 30_000
BATCH = 500  # sha256 values per SELECT (SQLite's variable limit is 32766; stay far below)
SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    sha256 TEXT NOT NULL,
    analyzer TEXT NOT NULL,
    version TEXT NOT NULL,
    ruleset TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (sha256, analyzer, version, ruleset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    analyzer TEXT PRIMARY KEY,
    hits INTEGER NOT NULL,
    misses INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class ResultKey:
    """What a cached value was computed with: `analyzer` "yara", its `version` (bumped when its
    code changes what it finds) and the hash of the rules it ran."""

    analyzer: str
    version: str
    ruleset: str


@dataclass
class CacheCounters:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    rebuilt: int = 0  # corrupt databases moved aside and recreated


_totals: dict[str, CacheCounters] = {}
_totals_lock = threading.Lock()


def cache_stats() -> dict[str, dict[str, int]]:
    """Hits, misses and stores of this process, per analyzer, e.g.
    {"yara": {"hits": 10210, "misses": 14, "stored": 14, "rebuilt": 0}}."""
    with _totals_lock:
        return {name: dict(vars(c)) for name, c in sorted(_totals.items())}


def reset_cache_stats() -> None:
    with _totals_lock:
        _totals.clear()


def _count(analyzer: str, **deltas: int) -> None:
    with _totals_lock:
        counters = _totals.setdefault(analyzer, CacheCounters())
        for name, delta in deltas.items():
            setattr(counters, name, getattr(counters, name) + delta)


class ResultCache:
    """Cached values by sha256 for one key. `directory=None` keeps nothing between scans (tests,
    or a scan without a cache directory) but still counts misses."""

    def __init__(self, directory: Path | None, key: ResultKey) -> None:
        self.key = key
        self.path = directory / DB_NAME if directory else None
        self._db: sqlite3.Connection | None = None

    def get_many(self, digests: Iterable[str]) -> dict[str, object]:
        """The cached values among `digests`; every digest asked counts as a hit or a miss."""
        wanted = sorted(set(digests))
        found: dict[str, object] = {}
        db = self._connect()
        if db is not None:
            for start in range(0, len(wanted), BATCH):
                chunk = wanted[start : start + BATCH]
                marks = ",".join("?" * len(chunk))
                rows = self._query(
                    db,
                    f"SELECT sha256, value FROM results WHERE analyzer = ? AND version = ? "
                    f"AND ruleset = ? AND sha256 IN ({marks})",
                    (self.key.analyzer, self.key.version, self.key.ruleset, *chunk),
                )
                for digest, value in rows:
                    try:
                        found[digest] = json.loads(value)
                    except ValueError:
                        continue  # a damaged row is a miss; put_many overwrites it
        misses = len(wanted) - len(found)
        _count(self.key.analyzer, hits=len(found), misses=misses)
        if db is not None and wanted:
            self._record(db, len(found), misses)
        return found

    def _record(self, db: sqlite3.Connection, hits: int, misses: int) -> None:
        try:
            with db:
                db.execute(
                    "INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT (analyzer) DO UPDATE "
                    "SET hits = hits + excluded.hits, misses = misses + excluded.misses",
                    (self.key.analyzer, hits, misses),
                )
        except sqlite3.DatabaseError:
            pass  # the counters are for `cache stats`; a scan does not fail for them

    def put_many(self, values: Mapping[str, object]) -> None:
        db = self._connect()
        if db is None or not values:
            return
        rows = [
            (digest, self.key.analyzer, self.key.version, self.key.ruleset, json.dumps(value))
            for digest, value in values.items()
        ]
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)", rows)
        except sqlite3.OperationalError:
            return  # locked past the busy timeout, disk full: these results are not kept
        except sqlite3.DatabaseError:
            self._rebuild()
            return
        _count(self.key.analyzer, stored=len(rows))

    def close(self) -> None:
        """Done with this key; the connection stays open for the process's next use (closing
        the last connection checkpoints the WAL, an fsync, for every analyzer of every scan)."""
        self._db = None

    def _query(
        self, db: sqlite3.Connection, sql: str, params: tuple[str, ...]
    ) -> list[tuple[str, str]]:
        try:
            return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []  # locked past the busy timeout: a miss, not a broken cache
        except sqlite3.DatabaseError:
            self._rebuild()
            return []

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None or self._db is not None:
            return self._db
        shared = _connections.get((self.path, threading.get_ident()))
        if shared is not None:
            self._db = shared
            return shared
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opening and, if need be, rebuilding is one step: a second thread that found the same
        # corrupt file waits here and then opens the rebuilt one instead of rebuilding again.
        with _open_lock:
            try:
                self._db = _open_unlocked(self.path)
            except sqlite3.OperationalError:
                return None  # locked or unreadable now: scan without the cache
            except sqlite3.DatabaseError:
                self._rebuild()
        return self._db

    def _rebuild(self) -> None:
        """Move a corrupt database aside (another scan may still hold it open) and start anew;
        a cache that cannot be rebuilt is simply not used."""
        assert self.path is not None
        self._db = None
        damaged_db = _connections.pop((self.path, threading.get_ident()), None)
        if damaged_db is not None:
            damaged_db.close()
        _count(self.key.analyzer, rebuilt=1)
        for suffix in ("", "-wal", "-shm"):
            damaged = self.path.with_name(self.path.name + suffix)
            try:
                damaged.replace(damaged.with_name(damaged.name + ".corrupt"))
            except FileNotFoundError:
                pass
            except OSError:
                return
        try:
            self._db = _open(self.path)
        except sqlite3.DatabaseError:
            self._db = None


def stored_stats(directory: Path) -> dict[str, dict[str, int]]:
    """What the cache in `directory` (`<cache-dir>/results`) holds and how it served scans, per
    analyzer, for `detonate cache stats`: {"yara": {"entries": 10224, "hits": 20420,
    "misses": 10224}, …, "": {"bytes": 5_345_280}} (the "" key: the database's size on disk)."""
    path = directory / DB_NAME
    size = sum(p.stat().st_size for p in (path, path.with_name(DB_NAME + "-wal")) if p.exists())
    stats: dict[str, dict[str, int]] = {"": {"bytes": size}}
    if not path.exists():
        return stats
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            for analyzer, entries in db.execute(
                "SELECT analyzer, count(*) FROM results GROUP BY analyzer"
            ):
                stats.setdefault(analyzer, {"entries": 0, "hits": 0, "misses": 0})
                stats[analyzer]["entries"] = entries
            for analyzer, hits, misses in db.execute("SELECT analyzer, hits, misses FROM counters"):
                stats.setdefault(analyzer, {"entries": 0, "hits": 0, "misses": 0})
                stats[analyzer].update(hits=hits, misses=misses)
        finally:
            db.close()
    except sqlite3.DatabaseError:
        pass  # a corrupt database is rebuilt by the next scan; nothing to show until then
    return stats


# One connection per database and thread, kept for the thread's later scans.
_connections: dict[tuple[Path, int], sqlite3.Connection] = {}


def close_connections() -> None:
    """Close the kept connections (a long-lived process between batches, tests)."""
    while _connections:
        _, db = _connections.popitem()
        db.close()


class _ThreadEnd:
    """Kept in a thread-local, so dropped when its thread ends: closes what that thread kept.
    Each scan's content pass runs on a thread of its own; without this, every new thread id
    left one more open database (3 fds) behind in a long-running service (issue 14's soak)."""

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        # held here: at interpreter exit the module's globals may be gone before the main
        # thread's locals
        self.connections, self.lock = _connections, _open_lock

    def __del__(self) -> None:
        with self.lock:
            ended = [key for key in self.connections if key[1] == self.ident]
            for db in [self.connections.pop(key) for key in ended]:
                db.close()


_thread_end = threading.local()


# two threads creating the database at once: one gets "locked"; re-entered by a rebuild
_open_lock = threading.RLock()


def _open(path: Path) -> sqlite3.Connection:
    with _open_lock:
        return _open_unlocked(path)


def _open_unlocked(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level="DEFERRED",
        check_same_thread=False,  # kept per thread id; a later thread may reuse a dead one's id
    )
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # a lost row after a power cut is a miss
        db.executescript(SCHEMA)
        db.execute("SELECT count(*) FROM results LIMIT 1").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    _connections[(path, threading.get_ident())] = db
    if not hasattr(_thread_end, "marker"):
        _thread_end.marker = _ThreadEnd()
    return db
