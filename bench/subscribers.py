"""Subscriber import and listing at scale (run by hand, not in CI).

    python bench/subscribers.py [--rows 100000] [--dynamodb 5000] [--preferences] [--shuffle]

Generates a CSV of ``--rows`` rows with 1 % invalid addresses and 1 % duplicates, imports it into a fresh
SQLite store, checks that the report names exactly the bad lines, imports it again (nothing may change), then
measures peak Python memory (tracemalloc) while streaming every member and every recipient, compared with
streaming a tenth as many: flat memory means a ratio near 1. ``--dynamodb N`` repeats the import and the
listing for N rows against DynamoDB through a local moto server. ``--preferences`` adds the preference
columns (half the readers choose a minimum importance and areas), which the import stores with the batch.
``--shuffle`` writes the addresses in random order (the generated ones otherwise come nearly in key order,
which is kind to the store's indexes). On Linux it prints how much the import wrote to disk.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.models import MailingList, RepoSpec
from newsletter.roster import import_csv
from newsletter.store.base import MemberStatus
from newsletter.store.dynamodb import DynamoStore
from newsletter.store.sqlite import SqliteStore

TARGET_SECONDS = 3.0  # 100k rows (issue 14)


def make_csv(
    path: Path, rows: int, seed: int = 7, *, preferences: bool = False, shuffle: bool = False
) -> tuple[list[int], int]:
    """Write the file; return the line numbers of the invalid rows and the number of duplicate rows. With
    ``preferences``, every second valid reader chose a minimum importance and two areas. Without ``shuffle``
    the addresses come nearly in key order (reader1…, reader10…); with it in random order, as a list exported
    from elsewhere does."""
    rng = random.Random(seed)
    kinds = ["ok"] * rows
    slots = rng.sample(range(1, rows), rows // 50)  # never the first data row (duplicates need an earlier one)
    for i in slots[: rows // 100]:
        kinds[i] = "invalid"
    for i in slots[rows // 100 :]:
        kinds[i] = "duplicate"
    lines: list[tuple[bool, str]] = []  # (invalid, text)
    written, duplicates = [], 0
    none = ",," if preferences else ""
    for i, kind in enumerate(kinds):
        if kind == "invalid":
            bad = rng.choice([f"user{i}.example.com", f"user{i}@", f"us er{i}@example.com", ""])
            lines.append((True, f"{bad},Bad{none}"))
        elif kind == "duplicate":
            email, chosen = rng.choice(written)  # the same choices: in a shuffled file the copy may come first
            lines.append((False, f"{email.upper()},Dup{chosen}"))
            duplicates += 1
        else:
            email = f"reader{i}@mail{i % 97}.example.com"
            chosen = (",high,python/ docs/" if i % 2 else none) if preferences else ""
            written.append((email, chosen))
            lines.append((False, f"{email},Reader {i}{chosen}"))
    if shuffle:
        rng.shuffle(lines)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("\ufeffemail,name" + (",min_importance,areas" if preferences else "") + "\r\n")  # as Excel writes
        out.writelines(f"{text}\r\n" for _, text in lines)
    return [n for n, (invalid, _) in enumerate(lines, start=2) if invalid], duplicates


def store_emails(store: Any) -> Iterator[str]:
    return (m.email for m in store.members("bench"))


def peak(fn: Callable[[], int]) -> tuple[int, float, float]:
    """(items, peak MiB of Python allocations, seconds) while ``fn`` runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    count = fn()
    seconds = time.perf_counter() - started
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, top / 2**20, seconds


def drain(items: Iterator[Any], limit: int | None = None) -> int:
    n = 0
    for _ in items:
        n += 1
        if limit is not None and n >= limit:
            break
    return n


BENCH_LIST = MailingList(
    id="bench",
    title="Bench",
    repos=[RepoSpec.parse("acme/widgets")],
    sender="Bench <bench@example.com>",
    postal_address="1 Bench Street",
)


def written_bytes() -> int | None:
    """What this process has written to storage so far (Linux), or None."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return None
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("write_bytes:"))


def bench(store: Any, label: str, folder: Path, rows: int, preferences: bool = False, shuffle: bool = False) -> bool:
    csv_path = folder / f"{label}.csv"
    invalid_lines, duplicates = make_csv(csv_path, rows, preferences=preferences, shuffle=shuffle)
    size = csv_path.stat().st_size / 2**20
    print(f"\n== {label}: {rows:,} rows ({size:.1f} MiB), {len(invalid_lines):,} invalid, {duplicates:,} duplicates")

    started, cpu, before = time.perf_counter(), time.process_time(), written_bytes()
    first = import_csv(store, csv_path, BENCH_LIST, status=MemberStatus.ACTIVE, source="import:bench.csv")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    expected_added = rows - len(invalid_lines) - duplicates
    lines_exact = [line for line, _, _ in first.invalid] == invalid_lines
    ok = lines_exact and first.added == expected_added and first.present == duplicates
    print(
        f"first import:  {seconds:6.2f} s ({rows / seconds:,.0f} rows/s) — added {first.added:,}, present"
        f" {first.present:,}, invalid {len(first.invalid):,}; invalid lines exact: {lines_exact}"
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"               cpu {cpu:.2f} s, load average {load} ({os.cpu_count()} cores)")
    if label == "sqlite":
        after = written_bytes()
        if before is not None and after is not None:
            size = (folder / "bench.db").stat().st_size
            print(f"               wrote {(after - before) / 2**20:,.0f} MiB for a database of {size / 2**20:,.0f} MiB")
        budget = TARGET_SECONDS * rows / 100_000
        print(f"               {seconds / budget:.2f} of the {budget:.1f} s budget (3 s per 100k rows)")
    if preferences:
        chose = sum(1 for _ in store.list_preferences("bench"))
        ok = ok and chose == len({e for e in store_emails(store) if int(e[6:].split("@")[0]) % 2})
        print(f"               {chose:,} readers' choices stored with them")

    counts = store.count_members("bench")
    started = time.perf_counter()
    second = import_csv(store, csv_path, BENCH_LIST, status=MemberStatus.ACTIVE, source="import:bench.csv")
    seconds2 = time.perf_counter() - started
    unchanged = second.added == 0 and store.count_members("bench") == counts
    ok = ok and unchanged and second.present == rows - len(invalid_lines)
    print(f"second import: {seconds2:6.2f} s — added {second.added:,}, present {second.present:,}", end="")
    print(f"; unchanged: {unchanged}")

    total = counts[MemberStatus.ACTIVE]
    tenth = max(total // 10, 1)
    small = peak(lambda: drain(store.members("bench"), tenth))
    full = peak(lambda: drain(store.members("bench")))
    recipients = peak(lambda: drain(store.active_recipients("bench")))
    print(f"list {small[0]:>7,} members: peak {small[1]:6.2f} MiB in {small[2]:5.2f} s")
    print(f"list {full[0]:>7,} members: peak {full[1]:6.2f} MiB in {full[2]:5.2f} s")
    print(f"list {recipients[0]:>7,} recipients: peak {recipients[1]:6.2f} MiB in {recipients[2]:5.2f} s")
    ratio = full[1] / small[1] if small[1] else float("inf")
    print(f"memory ratio {full[0] // max(small[0], 1)}x the members → {ratio:.2f}x the peak (flat ≈ 1)")
    return ok and full[0] == total and recipients[0] == total and ratio < 1.5


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in a process of its own, so that tracemalloc measures the store's client and not the server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dynamodb", type=int, default=0, metavar="N", help="also run N rows on moto server")
    parser.add_argument("--preferences", action="store_true", help="with preference columns")
    parser.add_argument("--shuffle", action="store_true", help="addresses in random order, not nearly sorted")
    args = parser.parse_args()
    # moto accepts any credentials; a real account's are never needed (nor read) here
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = SqliteStore(folder / "bench.db")
        ok &= bench(store, "sqlite", folder, args.rows, args.preferences, args.shuffle)
        with sqlite3.connect(folder / "bench.db") as db:
            events = db.execute("SELECT count(*) FROM consent_log").fetchone()[0]
        print(f"consent log: {events:,} events (one per address added)")
        store.close()
        if args.dynamodb:
            with moto_server() as endpoint:
                dynamo = DynamoStore("bench", region="us-east-1", endpoint_url=endpoint)
                dynamo.init()
                ok &= bench(dynamo, "dynamodb", folder, args.dynamodb, args.preferences, args.shuffle)
    print("\nall checks passed" if ok else "\nSOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
