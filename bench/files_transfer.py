"""Benchmark: our wp-content export vs OpenSSH's ``sftp -r`` and ``scp -r``, same run, same tree.

Serves a generated tree (many small files + a few big ones) from a private OpenSSH
server on 127.0.0.1 and copies it with each tool; prints seconds, MB/s and the
ratio to our export. Not a test: nothing is asserted about times.

    .venv/bin/python bench/files_transfer.py [--small 2000] [--big 3] [--big-mb 50]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paramiko

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT / "sandbox")]

from wpmigrate.full_access.files.exporter import export_files  # noqa: E402
from wpsandbox.services import PrivateSshd  # noqa: E402


def make_tree(root: Path, small: int, big: int, big_mb: int) -> None:
    rng = random.Random(42)
    for i in range(small):
        d = root / "small" / f"uploads/2024/{i % 20:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"image-{i:05d}.jpg").write_bytes(os.urandom(rng.randint(1_000, 32_000)))
    (root / "big").mkdir(parents=True, exist_ok=True)
    for i in range(big):
        with (root / "big" / f"video-{i}.mp4").open("wb") as fh:
            for _ in range(big_mb):
                fh.write(os.urandom(1024 * 1024))


def tree_stats(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def ssh_opts(sshd: PrivateSshd) -> list[str]:
    return ["-i", str(sshd.client_key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


def factory(sshd: PrivateSshd) -> Callable[[], paramiko.SFTPClient]:
    def connect() -> paramiko.SFTPClient:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # bench: throwaway host key
        client.connect("127.0.0.1", port=sshd.port, username="root", key_filename=str(sshd.client_key),
                       look_for_keys=False, allow_agent=False)
        return client.open_sftp()
    return connect


def methods(sshd: PrivateSshd, tree: Path, workers: int, base: Path) -> dict[str, Callable[[Path], Path]]:
    """name -> copy ``tree`` into a fresh directory, return where the files landed."""
    opts = ssh_opts(sshd)
    port = str(sshd.port)
    remote = f"root@127.0.0.1:{tree}"

    def ours(n: int) -> Callable[[Path], Path]:
        def run(dest: Path) -> Path:
            export_files(factory(sshd), str(tree), dest, workers=n)
            return dest / "files"
        return run

    def sftp(dest: Path) -> Path:
        batch = base / "batch.txt"
        batch.write_text(f'get -r "{tree}" "{dest}"\n')
        subprocess.run(["sftp", "-q", *opts, "-P", port, "-b", str(batch), "root@127.0.0.1"], check=True,
                       stdout=subprocess.DEVNULL)
        return dest

    def scp(*extra: str) -> Callable[[Path], Path]:
        def run(dest: Path) -> Path:
            subprocess.run(["scp", *extra, "-q", "-r", *opts, "-P", port, remote, str(dest)], check=True)
            return dest
        return run

    return {f"ours workers={workers}": ours(workers), "ours workers=1": ours(1), "sftp -r (batch)": sftp,
            "scp -r (sftp proto)": scp(), "scp -O -r (legacy)": scp("-O")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--big", type=int, default=3)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="wpmigrate-bench-"))
    sshd = PrivateSshd(base / "sshd")
    try:
        src = base / "wp-content"
        make_tree(src, args.small, args.big, args.big_mb)
        sshd.start()
        datasets = {f"small ({args.small} files)": src / "small",
                    f"big ({args.big} x {args.big_mb} MB)": src / "big", "all": src}
        print(f"cores={os.cpu_count()} paramiko={paramiko.__version__} "
              f"{subprocess.run(['ssh', '-V'], capture_output=True, text=True).stderr.strip()}")
        print(f"{'dataset':<24} {'method':<22} {'files':>6} {'MB':>8} {'seconds':>8} {'MB/s':>8} "
              f"{'vs ours':>8}")
        for label, tree in datasets.items():
            files, size = tree_stats(tree)
            results: list[tuple[str, float, Path]] = []
            for i, (method, run) in enumerate(methods(sshd, tree, args.workers, base).items()):
                dest = base / "out" / f"run{i}"
                dest.parent.mkdir(parents=True, exist_ok=True)
                start = time.perf_counter()
                landed = run(dest)
                results.append((method, time.perf_counter() - start, landed))
            ours = results[0][1]
            for method, secs, landed in results:
                got = tree_stats(landed)
                note = "" if got == (files, size) else f"  INCOMPLETE {got[0]} files"
                print(f"{label:<24} {method:<22} {files:>6} {size / 1e6:>8.1f} {secs:>8.2f} "
                      f"{size / 1e6 / secs:>8.1f} {secs / ours:>7.2f}x{note}")
            shutil.rmtree(base / "out")
        print("vs ours: the method's time divided by ours (>1: ours is faster)")
    finally:
        sshd.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
