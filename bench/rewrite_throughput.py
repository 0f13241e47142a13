"""Throughput of the URL rewriter on a realistic mix of column values.

    python bench/rewrite_throughput.py [--values 200000] [--seed 1]

Compared in the same run, on the same bytes, with:
* a naive Python loop of ``bytes.replace`` over every search/replace pair
  (multi-pass, not serialization-aware: what a quick script does);
* PHP (when ``php`` is on PATH): ``str_replace`` with the pair arrays (multi-pass),
  ``strtr`` (one pass, longest first: All-in-One WP Migration's approach), and the
  wp-cli approach (``unserialize`` -> recursive ``str_replace`` -> ``serialize``).
Only the rewriting loops are timed (CPU time, best of 3), never the I/O. The PHP
variants call one closure per value, as a PHP tool's row loop would.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from wpmigrate.rewrite.url_rewrite import UrlRewriter

OLD = ["https://www.old-site.example", "http://old-site.example"]
NEW = "https://new-site.platform.example"
OLD_PATH, NEW_PATH = "/home/oldsite/public_html", "/srv/www/new-site/htdocs"

WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
         "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "日本語",
         "café", "ünïcödé"]
REPEATS = 3  # best of: the machine may be shared


def php_serialize(v: object) -> bytes:
    """Enough of PHP's serialize() for generating data (str/int/bool/None/list/dict)."""
    if v is None:
        return b"N;"
    if isinstance(v, bool):
        return b"b:%d;" % v
    if isinstance(v, int):
        return b"i:%d;" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b's:%d:"%s";' % (len(v), v)
    items = v.items() if isinstance(v, dict) else enumerate(v)  # type: ignore[union-attr]
    body = b"".join(php_serialize(k) + php_serialize(x) for k, x in items)
    return b"a:%d:{%s}" % (len(v), body)  # type: ignore[arg-type]


def make_values(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    def url() -> str:
        host = rng.choice(["https://www.old-site.example", "http://old-site.example", "//old-site.example",
                           "https://cdn.other.example"])
        return f"{host}/wp-content/uploads/2021/0{rng.randint(1, 9)}/img-{rng.randint(1, 999)}.jpg"

    values: list[bytes] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.55:  # titles, slugs, meta flags, numbers: the bulk of rows
            v = rng.choice([text(rng.randint(1, 8)), str(rng.randint(0, 10**6)), "", "yes", "_edit_lock"])
        elif r < 0.70:  # post_content: HTML, a few KB, some links
            parts = [f"<p>{text(rng.randint(20, 80))}</p>" for _ in range(rng.randint(2, 12))]
            for _ in range(rng.randint(0, 4)):
                parts.insert(rng.randrange(len(parts) + 1), f'<img src="{url()}" alt="{text(2)}">')
            v = "\n".join(parts)
        elif r < 0.85:  # options / postmeta: serialized, sometimes nested
            d: dict[str, object] = {"title": text(3), "count": rng.randint(0, 99), "on": rng.random() < 0.5,
                                    "img": url(), "items": [text(2) for _ in range(rng.randint(0, 6))]}
            if rng.random() < 0.3:
                d["nested"] = php_serialize({"home": rng.choice(OLD), "path": OLD_PATH + "/wp-content"})
            values.append(php_serialize(d))
            continue
        elif r < 0.92:  # page-builder JSON: escaped slashes
            v = json.dumps([{"id": i, "settings": {"url": url(), "text": text(5)}}
                            for i in range(rng.randint(1, 8))]).replace("/", "\\/")
        else:  # short values holding a URL (siteurl, _wp_attached_file, menu links)
            v = url()
        values.append(v.encode())
    return values


def bench_ours(values: list[bytes], make: Callable[[], UrlRewriter]) -> tuple[float, UrlRewriter]:
    best = float("inf")
    for _ in range(REPEATS):
        rw = make()
        t0 = time.process_time()  # CPU time: less noisy than wall time on a busy box
        for v in values:
            rw.rewrite(v)
        best = min(best, time.process_time() - t0)
    return best, rw


def bench_naive(values: list[bytes], pairs: list[tuple[bytes, bytes]]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.process_time()
        for v in values:
            for s, r in pairs:
                v = v.replace(s, r)
        best = min(best, time.process_time() - t0)
    return best


PHP_BENCH = r"""<?php
$pairs = json_decode(base64_decode($argv[2]), true);
$search = array_map('base64_decode', array_column($pairs, 0));
$replace = array_map('base64_decode', array_column($pairs, 1));
$map = array_combine($search, $replace);
$data = file_get_contents($argv[1]); $values = []; $o = 0; $n = strlen($data);
while ($o < $n) { $len = unpack('N', $data, $o)[1]; $values[] = substr($data, $o + 4, $len); $o += 4 + $len; }
function rec($v, $s, $r) {   // wp-cli's recursive_unserialize_replace, reduced
    if (is_string($v)) {
        $u = @unserialize($v);
        if ($u !== false || $v === 'b:0;') { return serialize(rec($u, $s, $r)); }
        return str_replace($s, $r, $v);
    }
    if (is_array($v)) { foreach ($v as $k => $x) { $v[$k] = rec($x, $s, $r); } }
    return $v;
}
function cpu() { $r = getrusage(); return $r['ru_utime.tv_sec'] + $r['ru_utime.tv_usec'] / 1e6
                                   + $r['ru_stime.tv_sec'] + $r['ru_stime.tv_usec'] / 1e6; }
$runs = [
    'php str_replace' => function ($v) use ($search, $replace) { return str_replace($search, $replace, $v); },
    'php strtr' => function ($v) use ($map) { return strtr($v, $map); },
    'php wp-cli style' => function ($v) use ($search, $replace) { return rec($v, $search, $replace); },
];
$out = [];
foreach ($runs as $name => $f) {
    $best = INF;
    for ($i = 0; $i < (int) $argv[3]; $i++) {
        $t = cpu();
        foreach ($values as $v) { $f($v); }
        $best = min($best, cpu() - $t);
    }
    $out[$name] = $best;
}
echo json_encode($out);
"""


def bench_php(values: list[bytes], pairs: list[tuple[bytes, bytes]]) -> dict[str, float]:
    php = shutil.which("php")
    if php is None:
        return {}
    import base64

    enc = base64.b64encode(json.dumps([[base64.b64encode(s).decode(), base64.b64encode(r).decode()]
                                       for s, r in pairs]).encode()).decode()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "values.bin")
        data.write_bytes(b"".join(struct.pack(">I", len(v)) + v for v in values))
        script = Path(tmp, "bench.php")
        script.write_text(PHP_BENCH)
        out = subprocess.run([php, "-d", "memory_limit=2G", str(script), str(data), enc, str(REPEATS)],
                             capture_output=True, check=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--values", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    values = make_values(args.values, args.seed)
    mb = sum(map(len, values)) / 1e6
    def make() -> UrlRewriter:
        return UrlRewriter.for_migration(OLD, NEW, OLD_PATH, NEW_PATH)

    rw = make()
    pairs = sorted(rw.pairs.items(), key=lambda p: -len(p[0]))
    with_url = sum(1 for v in values if rw.has_candidate(v))
    print(f"{len(values)} values, {mb:.1f} MB, {with_url} hold an old URL/path; {len(pairs)} search terms")

    secs, rw = bench_ours(values, make)
    results = {"wpmigrate UrlRewriter.rewrite": secs}
    st = rw.stats
    print(f"  changed {st.values_changed} values, {st.replacements} replacements, "
          f"{st.serialized_values} serialized walked, {st.unparseable} unparseable")
    results["python naive bytes.replace loop"] = bench_naive(values, pairs)
    results.update(bench_php(values, pairs))

    ours = results["wpmigrate UrlRewriter.rewrite"]
    print(f"{'':34} {'seconds':>8} {'MB/s':>8} {'ours is x faster':>17}")
    for name, secs in results.items():
        print(f"{name:34} {secs:8.3f} {mb / secs:8.1f} {secs / ours:17.2f}")


if __name__ == "__main__":
    main()
