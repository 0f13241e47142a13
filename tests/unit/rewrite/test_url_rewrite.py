"""The URL rewriter. PHP is the oracle for serialized values (tests/unit/rewrite/php_oracle.php):
it unserializes our output and compares it with its own replacement done on the
unserialized structure, with its own regex (a length-sorted alternation)."""

from __future__ import annotations

import random

import pytest
from _php_oracle import PhpOracle, oracle_fixture, php_bytes, random_php_expr

from wpmigrate.rewrite.php_serialized import validate
from wpmigrate.rewrite.url_rewrite import (
    DEFAULT_SKIP_COLUMNS,
    MAX_SAMPLES,
    UrlRewriter,
    skip_column,
)

php = pytest.fixture(scope="module")(oracle_fixture)

OLD = ["http://old.example", "http://127.0.0.1:8081"]
# The new host contains the old one: a rewriter that rescans its output would loop.
NEW = "https://www.old.example.org"
OLD_PATH, NEW_PATH = "/home/old/public_html", "/var/www/old.example.org/htdocs"


def make() -> UrlRewriter:
    return UrlRewriter.for_migration(OLD, NEW, OLD_PATH, NEW_PATH)


def oracle_pairs(rw: UrlRewriter) -> list[tuple[bytes, bytes, int]]:
    """The rewriter's pairs for the PHP oracle, with each term's case-insensitive head."""
    ci = rw.case_insensitive
    return [(s, r, ci.get(s, 0)) for s, r in rw.pairs.items()]


# name -> (how PHP builds it, PHP expression, should our output differ from the input)
CASES: dict[str, tuple[str, str, bool]] = {
    "plain-text": ("eval", '"Visit http://old.example/about, or https://www.old.example."', True),
    "html": ("eval", '"<a href=\\"http://old.example/p\\"><img src=\\"//old.example/i.png\\" '
                     'srcset=\\"https://old.example/i-2x.png 2x\\"></a>"', True),
    "serialized-string": ("build", '"http://old.example/page"', True),
    "all-variants": ("build", '["http://old.example", "https://old.example/x", "//old.example/y", '
                              '"http:\\\\/\\\\/old.example\\\\/z", "http%3A%2F%2Fold.example%2Fq", '
                              '"http%3a%2f%2fold.example%2fq", "https://www.old.example/w", '
                              '"https:\\\\\\\\\\\\/\\\\\\\\\\\\/old.example"]', True),
    "urlencode": ("build", '["r" => "to=" . urlencode("https://old.example/a b~"), '
                           '"raw" => rawurlencode("https://www.old.example/a b~")]', True),
    "json-in-serialized": ("build", '["json" => json_encode(["u" => "http://old.example/x/y", '
                                    '"p" => "/home/old/public_html/f"])]', True),
    "gutenberg": ("eval", '"<!-- wp:image {\\"url\\":\\"http:\\\\/\\\\/old.example\\\\/a.jpg\\"} -->"', True),
    "nested": ("build", '["opt" => serialize(["url" => "http://old.example/a", "n" => 1])]', True),
    "nested-3": ("build", 'serialize(serialize(["u" => "http://old.example", '
                          '"v" => serialize("//old.example/x")]))', True),
    "unknown-class": ("build", 'unserialize(\'O:13:"Unknown_Class":2:{s:3:"url";s:18:"http://old.example";'
                               's:1:"n";i:5;}\')', True),
    "incomplete-nested": ("build", '["w" => [unserialize(\'O:10:"WP_Widget_":1:{s:4:"home";'
                                   's:18:"http://old.example";}\')]]', True),
    "visibility": ("build", '(function () { if (!class_exists("UrlVis")) { eval(\'class UrlVis { '
                            'private $a = "http://old.example/p"; protected $b = "//old.example"; '
                            'public $c = ["https://old.example"]; }\'); } return new UrlVis; })()', True),
    "multibyte": ("build", '["t" => "日本語 http://old.example/日本 😀 e\\u{0301} '
                           '访问http://old.example网站"]', True),
    "invalid-utf8": ("build", '["\\xff\\xfe http://old.example \\xc3", '
                              '"\\xc3\\x28http://old.example/\\xff"]', True),
    "ports": ("build", '["http://127.0.0.1:8081/x", "http://127.0.0.1:80812/y", '
                       '"http://127.0.0.1:8081", "//127.0.0.1:8081/z"]', True),
    "not-our-host": ("build", '["http://old.example.com", "http://old.examplefoo/", '
                              '"http://old.example-x.net", "http://gold.example/", '
                              '"https://old.example:8443/", "mailto:a@old.example"]', False),
    "arrays-of-arrays": ("build", '[[["http://old.example"], [[["//old.example/deep"]]]], [], [[]]]', True),
    "object-refs": ("build", '(function () { $o = new stdClass; $o->u = "http://old.example"; '
                             'return [$o, $o, "k" => $o]; })()', True),
    "value-refs": ("build", '(function () { $x = "http://old.example"; $a = ["a" => &$x, "b" => &$x]; '
                            'return $a; })()', True),
    "scalars": ("build", '[INF, -INF, NAN, -0.0, 0.1, true, false, null, -5, PHP_INT_MIN, '
                         '"http://old.example"]', True),
    "empty-strings": ("build", '["", "http://old.example", "", "k" => ""]', True),
    "quotes-braces": ("build", '["a\\";}b" => "x\\";s:5:\\"}http://old.example\\";}\\"\'"]', True),
    "looks-serialized": ("build", '["a:1:{see http://old.example;}", "i:5; http://old.example"]', True),
    # Issue 10 item 12: looks serialized, does not parse: rewritten as plain text.
    "broken-length": ("eval", '\'a:1:{i:0;s:99:"http://old.example";}\'', True),
    "broken-nested": ("build", '["x" => \'a:1:{i:0;s:99:"http://old.example";}\', '
                               '"y" => "http://old.example"]', True),
    "collision": ("build", '["https://www.old.example.org/already", "http://old.example/p"]', True),
    "paths": ("build", '["/home/old/public_html/wp-content/uploads", '
                       '"\\\\/home\\\\/old\\\\/public_html\\\\/x", '
                       '"/home/old/public_html2", "/home/old/public_html"]', True),
    "keys-untouched": ("build", '["http://old.example" => "http://old.example"]', True),
    "long-1mb": ("build", '["big" => str_repeat("lorem http://old.example/x ipsum ", 32000), '
                          '"n" => 1]', True),
    "deep": ("build", '(function () { $a = "http://old.example"; for ($i = 0; $i < 300; $i++) { $a = [$a]; } '
                      'return $a; })()', True),
    "whitespace": ("eval", '" \\n" . serialize(["http://old.example"]) . "\\n"', True),
    "escaped-S": ("eval", '\'a:1:{i:0;S:18:"http:\\2f\\2fold.example";}\'', True),
    "json-top-level": ("eval", 'json_encode(["home" => "http://old.example", "s" => serialize("x")])', True),
    "enum": ("build", '(function () { if (!enum_exists("UrlSuit")) { eval(\'enum UrlSuit { case A; }\'); } '
                      'return [UrlSuit::A, "http://old.example"]; })()', True),
    # Issue 10 item 13: scheme and host match in any letter case.
    "uppercase-scheme-and-host": ("build", '["HTTP://OLD.EXAMPLE/", "Http://Old.Example", '
                                           '"HTTP:\\/\\/OLD.EXAMPLE\\/x", "HTTP%3A%2F%2FOLD.EXAMPLE"]', True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rewrite_matches_php(php: PhpOracle, name: str) -> None:
    how, code, changes = CASES[name]
    value = php.build(code) if how == "build" else php.eval(code)
    rw = make()
    out = rw.rewrite(value)
    verdict = php.check(value, out, oracle_pairs(rw))
    assert verdict["ok"], verdict
    assert (out != value) is changes
    if not changes:
        assert out is value
    if changes and name not in {"broken-nested", "looks-serialized", "keys-untouched"}:
        assert b"http://old.example" not in out


def test_case_count() -> None:
    assert len(CASES) >= 30


def test_variants_for_a_subdirectory_site() -> None:
    rw = UrlRewriter.for_migration(["https://www.old.example/blog"], "https://new.example")
    pairs = rw.pairs
    expected = {
        b"http://old.example/blog": b"https://new.example",
        b"https://www.old.example/blog": b"https://new.example",
        b"//old.example/blog": b"//new.example",
        b"https:\\/\\/old.example\\/blog": b"https:\\/\\/new.example",
        b"\\/\\/www.old.example\\/blog": b"\\/\\/new.example",
        b"https:\\\\\\/\\\\\\/old.example\\\\\\/blog": b"https:\\\\\\/\\\\\\/new.example",
        b"http%3A%2F%2Fold.example%2Fblog": b"https%3A%2F%2Fnew.example",
        b"http%3a%2f%2fwww.old.example%2fblog": b"https%3a%2f%2fnew.example",
        b"%2F%2Fold.example%2Fblog": b"%2F%2Fnew.example",
    }
    for search, replace in expected.items():
        assert pairs[search] == replace, search
    assert rw.rewrite(b"see https://old.example/blog/2024/x and https://old.example/blogger") == (
        b"see https://new.example/2024/x and https://old.example/blogger"
    )


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (b"http://old.example", b"https://www.old.example.org"),
        (b"http://old.example/", b"https://www.old.example.org/"),
        (b"http://old.example.", b"https://www.old.example.org."),
        (b"(http://old.example)", b"(https://www.old.example.org)"),
        (b'"http://old.example"', b'"https://www.old.example.org"'),
        (b"http://old.example: yes", b"https://www.old.example.org: yes"),
        (b"http://old.example?p=1#x", b"https://www.old.example.org?p=1#x"),
        (b"http://old.example.com", b"http://old.example.com"),
        (b"http://old.examplefoo", b"http://old.examplefoo"),
        (b"http://old.example-cdn.net", b"http://old.example-cdn.net"),
        (b"http://old.example_x", b"http://old.example_x"),
        (b"http://old.example:8080/", b"http://old.example:8080/"),
        (b"http://127.0.0.1:80812", b"http://127.0.0.1:80812"),
        (b"http://127.0.0.1:8081", b"https://www.old.example.org"),
        (b"http://127.0.0.1:8081/x", b"https://www.old.example.org/x"),
        (b"//old.example/a", b"//www.old.example.org/a"),
        (b"http:\\/\\/old.example\\/a", b"https:\\/\\/www.old.example.org\\/a"),
        (b"http%3A%2F%2Fold.example%2Fa", b"https%3A%2F%2Fwww.old.example.org%2Fa"),
        (b"http%3a%2f%2fold.example%2fa", b"https%3a%2f%2fwww.old.example.org%2fa"),
        (b"https://www.old.example.org/x", b"https://www.old.example.org/x"),  # the new URL: left alone
        (b"/home/old/public_html/x", b"/var/www/old.example.org/htdocs/x"),
        (b"\\/home\\/old\\/public_html\\/x", b"\\/var\\/www\\/old.example.org\\/htdocs\\/x"),
        (b"/home/old/public_html_bak", b"/home/old/public_html_bak"),
        (b"/home/old/public_html.bak", b"/home/old/public_html.bak"),
    ],
)
def test_boundaries_and_forms(text: bytes, want: bytes) -> None:
    assert make().rewrite(text) == want


def test_single_pass_never_rewrites_a_replacement() -> None:
    rw = make()
    once = rw.rewrite(b"http://old.example and /home/old/public_html")
    assert once == b"https://www.old.example.org and /var/www/old.example.org/htdocs"
    assert rw.rewrite(once) is once  # and so it is idempotent here
    # The old path inside the new URL, and the old domain inside the new path.
    rw = UrlRewriter.for_migration(["http://old.example"], "https://new.example/var/www/html",
                                   "/var/www/html", "/srv/old.example")
    assert rw.rewrite(b"/var/www/html/a http://old.example/b") == (
        b"/srv/old.example/a https://new.example/var/www/html/b"
    )


def test_longest_match_first_with_literal_pairs() -> None:
    rw = UrlRewriter([("http://a.test", "http://b.test"), ("http://a.test/sub", "http://c.test")])
    assert rw.rewrite(b"http://a.test/sub/x http://a.test/x http://a.test/subway") == (
        b"http://c.test/x http://b.test/x http://b.test/subway"
    )
    # Replacements that contain other search terms are not rescanned.
    rw = UrlRewriter([("a", "b"), ("b", "a")], boundary=False)
    assert rw.rewrite(b"abab") == b"baba"


def test_stats_and_bounded_samples() -> None:
    rw = make()
    assert rw.rewrite(b"nothing here") == b"nothing here"
    rw.rewrite(b'a:1:{i:0;s:18:"http://old.example";}')
    for i in range(200):
        rw.rewrite(b'a:1:{i:0;s:%d:"http://old.example";}' % (99 + i), where=f"wp_options:{i}")
    st = rw.stats
    # The 200 broken ones are rewritten as plain text (issue 10 item 12), and counted.
    assert (st.values_seen, st.values_changed, st.replacements) == (202, 201, 201)
    assert (st.serialized_values, st.unparseable, st.unparseable_rewritten) == (201, 200, 200)
    assert len(st.samples) == MAX_SAMPLES
    assert st.samples[0]["reason"] == "unparseable_rewritten_as_text"
    assert st.samples[0]["where"] == "wp_options:0"
    assert all(len(s["prefix"]) <= 64 * 4 for s in st.samples)
    d = st.to_dict()
    assert d["unparseable"] == 200 and d["unparseable_rewritten"] == 200 and len(d["samples"]) == MAX_SAMPLES
    assert rw.rewrite(b'a:1:{i:0;s:99:"no url";}') == b'a:1:{i:0;s:99:"no url";}'


def test_unchanged_values_are_the_same_object() -> None:
    rw = make()
    v = b"x" * 1000
    assert rw.rewrite(v) is v
    same = UrlRewriter.for_migration(["https://site.example"], "https://site.example")
    v = b"https://site.example/a"
    assert same.rewrite(v) is v and same.stats.replacements == 0


def test_scheme_only_change_keeps_https_text() -> None:
    rw = UrlRewriter.for_migration(["http://site.example"], "https://site.example")
    assert rw.rewrite(b"http://site.example https://site.example //site.example") == (
        b"https://site.example https://site.example //site.example"
    )
    assert rw.stats.replacements == 1


def test_custom_object_with_url_is_reported_not_changed() -> None:
    rw = make()
    value = b'a:2:{i:0;C:7:"Unknown":18:{http://old.example}i:1;s:18:"http://old.example";}'
    out = rw.rewrite(value, where="wp_options:x")
    assert out == b'a:2:{i:0;C:7:"Unknown":18:{http://old.example}i:1;s:27:"https://www.old.example.org";}'
    assert rw.stats.skipped_parts == 1 and rw.stats.samples[0]["reason"] == "custom_object"
    top = b'C:7:"Unknown":18:{http://old.example}'
    assert rw.rewrite(top) == top


def test_rewrite_plain_ignores_serialization() -> None:
    rw = make()
    out = rw.rewrite_plain(b's:18:"http://old.example";')
    assert out == b's:18:"https://www.old.example.org";' and not validate(out)


def test_never_raises_on_garbage() -> None:
    rng = random.Random(3)
    rw = make()
    pieces = [b"a:1:{", b's:3:"', b'";', b"}", b"http://old.example", b"i:1;", b'O:1:"X":1:{', b"\xff",
              b"C:"]
    for _ in range(2000):
        value = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        out = rw.rewrite(value)
        assert isinstance(out, bytes)
        if validate(value):
            assert validate(out)


def test_skip_columns() -> None:
    assert ("posts", "guid") in DEFAULT_SKIP_COLUMNS and ("users", "user_pass") in DEFAULT_SKIP_COLUMNS
    assert skip_column("wp_posts", "guid")
    assert skip_column("wp_users", "user_pass")
    assert skip_column("wp_3_posts", "guid")  # multisite
    assert skip_column("abc_posts", "guid", table_prefix="abc_")
    assert not skip_column("wp_posts", "post_content")
    assert not skip_column("wp_postmeta", "meta_value")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        UrlRewriter([("a", "b"), ("a", "c")])
    with pytest.raises(ValueError):
        UrlRewriter.for_migration(["ftp://old.example"], NEW)
    assert b"/x" not in UrlRewriter.for_migration(OLD, NEW, old_path="/x").pairs  # no new path: no path pairs
    with pytest.raises(ValueError):
        UrlRewriter.for_migration(OLD, NEW, old_path="/", new_path="/y")


FRAGMENTS = [
    b"http://old.example", b"https://www.old.example/x", b"//old.example", b"http:\\/\\/old.example\\/p",
    b"http%3A%2F%2Fold.example", b"http%3a%2f%2fwww.old.example%2f", b"old.example.com", b"http://127.0.0.1:8081",
    b"http://127.0.0.1:80812", b"/home/old/public_html", b"\\/home\\/old\\/public_html", "日本".encode(),
    b'";}', b"a:1:{", b".", b"-", b":", b"/", b"\\\\\\/", b"x", b"https://www.old.example.org",
    b"HTTP://OLD.EXAMPLE", b"Http%3a%2F%2FWww.Old.Example", b"http:\\u002F\\u002Fold.example\\u002Fp",
    b"\\u002f\\u002fOLD.example", b"/HOME/old/public_html",
]


def test_random_structures_against_php(php: PhpOracle) -> None:
    rng = random.Random(99)
    rw = make()
    pairs = oracle_pairs(rw)
    for _ in range(300):
        code = random_php_expr(rng, FRAGMENTS)
        value = php.build(code)
        out = rw.rewrite(value)
        verdict = php.check(value, out, pairs)
        assert verdict["ok"], (code, verdict)
    for _ in range(100):  # plain text too: same matches as PHP's own regex
        value = b"".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 10)))
        out = rw.rewrite(php.eval(php_bytes(value)))
        assert php.check(value, out, pairs, mode="plain")["ok"], value
    assert rw.stats.unparseable == 0


def test_long_value_path_equals_plain_regex_scan() -> None:
    """Values >= 2 KB are scanned only around needle occurrences; same result."""
    rng = random.Random(5)
    rw = make()
    regex = rw._regex
    assert regex is not None
    for _ in range(200):
        value = b"".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(150, 600)))
        want = regex.sub(lambda m: rw._lookup(m.group()) or m.group(), value)
        assert rw._sub_long(value, regex) == want
