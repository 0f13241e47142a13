"""The serialized walker, with PHP itself as the oracle (tests/unit/rewrite/php_oracle.php)."""

from __future__ import annotations

import random
import time

import pytest
from _php_oracle import PhpOracle, oracle_fixture, random_php_expr

from wpmigrate.rewrite.php_serialized import (
    SerializedFormatError,
    is_serialized,
    transform_strings,
    validate,
)

php = pytest.fixture(scope="module")(oracle_fixture)

# "<x>" ends in a non-word byte, so the oracle's replacement needs no boundary rule.
PAIRS = [(b"<x>", b"[[X-X]]")]


def fn(b: bytes) -> bytes:
    return b.replace(b"<x>", b"[[X-X]]")


# PHP expressions: each is serialize()d by PHP, walked by us, checked by PHP.
BUILT = {
    "string": '"a <x> b"',
    "empty-string": '""',
    "list": '["<x>", "", "<x><x>", 1, -2]',
    "assoc": '["k<x>" => "<x>", "n" => null, "t" => true, "f" => false]',
    "floats": '[INF, -INF, NAN, -0.0, 0.1, 1e300, "<x>"]',
    "ints": '[PHP_INT_MAX, PHP_INT_MIN, -1, "-1" => "<x>"]',
    "quotes-braces": '["a\\";}b" => "x\\";s:5:\\"}<x>\\";}", "q" => "\'\\"\\\\"]',
    "looks-serialized": '["a:1:{<x>}", "s:3:\\"<x>\\";", "i:5; <x>"]',
    "nested": '["opt" => serialize(["u" => "<x>", "n" => 1])]',
    "nested-3": 'serialize(serialize(["u" => "<x>", "v" => serialize("<x><x>")]))',
    "nested-ws": '["o" => " \\n" . serialize(["<x>"]) . "\\t"]',
    "unknown-class": 'unserialize(\'O:13:"Unknown_Class":2:{s:3:"url";s:3:"<x>";s:1:"n";i:5;}\')',
    "incomplete-in-array": '[unserialize(\'O:3:"Foo":1:{s:1:"a";s:3:"<x>";}\'), "<x>"]',
    "stdclass": '(object)["a" => "<x>", "b" => (object)["c" => "<x>"]]',
    "numeric-props": 'unserialize(\'O:8:"stdClass":2:{i:0;s:3:"<x>";i:1;i:2;}\')',
    "visibility": '(function () { if (!class_exists("VisT")) { eval(\'class VisT { private $a = "<x>";'
                  ' protected $b = "p<x>"; public $c = ["<x>"]; }\'); } return new VisT; })()',
    "multibyte": '["t" => "日本語 <x> 😀 e\\u{0301} ελληνικά", "日本" => "<x>"]',
    "invalid-utf8": '["\\xff\\xfe <x> \\xc3", "\\xc3\\x28<x>"]',
    "deep-200": '(function () { $a = "<x>"; for ($i = 0; $i < 200; $i++) { $a = [$i => $a, "s" => "<x>"]; }'
                ' return $a; })()',
    "object-refs": '(function () { $o = new stdClass; $o->u = "<x>"; return [$o, $o, "k" => $o]; })()',
    "value-refs": '(function () { $x = "<x>"; $a = ["a" => &$x, "b" => &$x, "c" => "<x>"]; return $a; })()',
    "self-ref-object": '(function () { $o = new stdClass; $o->self = $o; $o->u = "<x>"; return $o; })()',
    "enum": '(function () { if (!enum_exists("SuitT")) { eval(\'enum SuitT: string { case H = "h"; }\'); }'
            ' return ["e" => SuitT::H, "u" => "<x>"]; })()',
    "1mb": '["big" => str_repeat("lorem <x> ipsum ", 70000), "n" => 1]',
    "many-elements": 'array_fill(0, 5000, "<x>")',
    "nul-bytes": '["\\0*\\0prop" => "\\0<x>\\0"]',
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_transform_matches_php(php: PhpOracle, name: str) -> None:
    value = php.build(BUILT[name])
    assert validate(value), value[:200]
    assert is_serialized(value)
    out = transform_strings(value, fn)
    assert php.unserialize_ok(out)
    verdict = php.check(value, out, PAIRS)
    assert verdict["ok"], verdict


@pytest.mark.parametrize("name", sorted(BUILT))
def test_identity_returns_same_object(php: PhpOracle, name: str) -> None:
    value = php.build(BUILT[name])
    assert transform_strings(value, lambda b: b) is value


def test_lengths_are_bytes_not_characters() -> None:
    value = b's:%d:"%s";' % (len("日本<x>".encode()), "日本<x>".encode())
    out = transform_strings(value, fn)
    assert out == b's:13:"\xe6\x97\xa5\xe6\x9c\xac[[X-X]]";'


def test_nested_lengths_recomputed_at_both_levels() -> None:
    inner = b'a:1:{i:0;s:3:"<x>";}'
    value = b's:%d:"%s";' % (len(inner), inner)
    out = transform_strings(value, fn)
    new_inner = b'a:1:{i:0;s:7:"[[X-X]]";}'
    assert out == b's:%d:"%s";' % (len(new_inner), new_inner)


def test_custom_object_payload_is_opaque_and_reported() -> None:
    value = b'a:2:{i:0;C:7:"Unknown":8:{"<x>";;}}i:1;s:3:"<x>";}'
    assert validate(value)
    skipped: list[tuple[str, bytes]] = []
    out = transform_strings(value, fn, on_skip=lambda kind, p: skipped.append((kind, p)))
    assert out == b'a:2:{i:0;C:7:"Unknown":8:{"<x>";;}}i:1;s:7:"[[X-X]]";}'
    assert skipped == [("custom_object", b'"<x>";;}')]


def test_escaped_S_strings_are_rewritten_as_s() -> None:
    value = b'a:1:{i:0;S:3:"\\3cx>";}'
    assert validate(value)
    assert transform_strings(value, fn) == b'a:1:{i:0;s:7:"[[X-X]]";}'


def test_keys_only_when_asked_and_never_property_names() -> None:
    value = b'a:1:{s:3:"<x>";O:1:"X":1:{s:3:"<x>";s:3:"<x>";}}'
    assert transform_strings(value, fn) == b'a:1:{s:3:"<x>";O:1:"X":1:{s:3:"<x>";s:7:"[[X-X]]";}}'
    assert transform_strings(value, fn, keys=True) == (
        b'a:1:{s:7:"[[X-X]]";O:1:"X":1:{s:3:"<x>";s:7:"[[X-X]]";}}'
    )


def test_surrounding_whitespace_is_kept() -> None:
    assert transform_strings(b' \ns:3:"<x>";\n', fn) == b' \ns:7:"[[X-X]]";\n'


def test_visit_skips_strings() -> None:
    seen: list[bytes] = []

    def spy(b: bytes) -> bytes:
        seen.append(b)
        return b

    transform_strings(b'a:2:{i:0;s:1:"a";i:1;s:3:"<x>";}', spy, visit=lambda b: b"<" in b)
    assert seen == [b"<x>"]


def test_nested_malformed_left_alone_and_reported() -> None:
    broken = b'a:1:{i:0;s:99:"<x>";}'  # is_serialized() yes, unserialize() no
    value = b'a:2:{i:0;s:%d:"%s";i:1;s:3:"<x>";}' % (len(broken), broken)
    skipped: list[tuple[str, bytes]] = []
    out = transform_strings(value, fn, on_skip=lambda kind, p: skipped.append((kind, p)))
    assert out == b'a:2:{i:0;s:%d:"%s";i:1;s:7:"[[X-X]]";}' % (len(broken), broken)
    assert skipped == [("nested_malformed", broken)]


@pytest.mark.parametrize(
    "value",
    [
        b'a:1:{i:0;s:99:"<x>";}', b's:3:"<x>"', b'a:2:{i:0;s:3:"<x>";}', b"a:1:{i:0;i:1;}}",
        b'O:3:"X-Y":0:{}', b"a:1:{N;i:1;}", b"", b"x", b'a:1:{i:0;s:3:"<x>";}trailing',
        b"a:1:{i:0;r:1;}", b"a:2:{i:0;i:5;i:1;R:3;}", b'C:1:"X":5:{abc}',
    ],
)
def test_malformed_raises_and_validate_agrees_with_php(php: PhpOracle, value: bytes) -> None:
    with pytest.raises(SerializedFormatError):
        transform_strings(value, fn)
    assert not validate(value)
    assert not php.unserialize_ok(value, strict=True)


EDGE_VALUES = [
    b"i:99999999999999999999;", b"a:1:{i:99999999999999999999;i:1;}", b'O:8:"stdClass"::{}',
    b'O:8:"stdClass":+1:{s:1:"a";i:1;}', b"a:1:{i:0;R:1;}", b"a:1:{i:0;r:1;}",
    b'O:1:"X":1:{s:1:"a";r:1;}', b'a:2:{i:0;O:1:"X":0:{}i:1;r:2;}', b"a:2:{i:0;i:5;i:1;R:2;}",
    b"a:2:{i:0;i:5;i:1;R:3;}", b's:05:"hello";', b"a:0:{}", b"d:.5;", b"d:5.;", b"d:1e5;", b"d:+INF;",
    b"d:-0;", b"d:NAN;", b"d:-INF;", b"b:2;", b'C:1:"X":3:{abc}', b'C:1:"X":-0:{}', b'O:3:"X-Y":0:{}',
    b"a:1:{N;i:1;}", b"a:1:{b:1;i:1;}", b'O:1:"X":1:{s:5:"\0*\0ab";i:1;}', b'S:3:"\\61bc";',
    b'S:3:"\\6xbc";', b"a:1:{i:0;a:0:{}}", b"i:+5;", b"i:-0;", b'a:2:{i:0;O:1:"X":0:{}i:1;R:2;}', b"N;",
    b"a:1:{i:0;i:1}", b'a:1:{i:0;s:1:"a"}', b's:5:"hell";', b's:3:"hello";', b"b:0;", b"a:1:{i:0;R:0;}",
    b"d:1.5e+300;", b"d:1.e5;", b"d:e5;", b'O:0:"":0:{}', b'O:1:"\\":0:{}', b'C:1:"X":5:{abc}',
    b"a:-1:{}", b"a:1:{}", b's:0:"";', b"a:5:{i:0;i:1;}", b'O:1:"X":-1:{}', b'O:1:"X":0:{', b" a:0:{}",
    b'O:9:"Ns\\Cls_\xc3\xa9":0:{}', b'O:2:"1X":0:{}', b"a:1:{d:1.5;i:1;}", b'a:1:{S:1:"\\61";i:1;}',
]


def test_validate_agrees_with_php_on_edge_cases(php: PhpOracle) -> None:
    for value in EDGE_VALUES:
        assert validate(value) == php.unserialize_ok(value, strict=True), value


def test_depth_limit_like_php(php: PhpOracle) -> None:
    for depth, ok in ((4096, True), (4097, False)):
        value = b"a:1:{i:0;" * depth + b"i:1;" + b"}" * depth
        assert validate(value) is ok
        assert php.unserialize_ok(value) is ok
    # Empty arrays do not count against the limit in PHP.
    value = b"a:1:{i:0;" * 4096 + b"a:0:{}" + b"}" * 4096
    assert validate(value) and php.unserialize_ok(value)


def test_very_deep_input_needs_no_recursion() -> None:
    value = b"a:1:{i:0;" * 200_000 + b"i:1;" + b"}" * 200_000
    assert not validate(value)  # beyond PHP's limit, and no RecursionError
    assert validate(value, max_depth=0)  # 0 = unlimited, as in PHP


def test_nested_serialization_is_bounded() -> None:
    value = b's:3:"<x>";'
    for _ in range(40):
        value = b's:%d:"%s";' % (len(value), value)
    skipped: list[str] = []
    out = transform_strings(value, fn, on_skip=lambda kind, p: skipped.append(kind))
    assert skipped == ["nested_too_deep"] and out == value


def test_is_serialized_matches_wordpress(php: PhpOracle) -> None:
    values = [
        b"N;", b" N; ", b"b:1;", b"b:2;", b"i:5;", b"i:5", b"d:INF;", b"d:1.5E+10;", b's:3:"abc";',
        b's:3:"abc', b"a:0:{}", b"a:1:{", b'O:1:"X":0:{}', b'C:1:"X":0:{}', b'E:6:"Foo:Ba";', b"x:1;",
        b"a:", b"", b"\n a:1:{i:0;i:1;} \t", b"s:1:x;", b'S:1:"a";', b"i:5; text;", b"a:1: not; ",
        b"r:1;", b"a:b:{}", b"d:1.5;x", b"hello", b"http://old.example/a:1:{}",
    ]
    assert [is_serialized(v) for v in values] == php.is_serialized(values)


FRAGMENTS = [b"<x>", b"http://old.example", "日本語".encode(), "😀".encode(), b'";}', b"\0*\0", b"a:1:{",
             b's:3:"', b"\\", b"'", b"\xff", b""]


def test_random_structures_against_php(php: PhpOracle) -> None:
    rng = random.Random(20240611)
    for _ in range(300):
        code = random_php_expr(rng, FRAGMENTS)
        value = php.build(code)
        assert validate(value), code
        out = transform_strings(value, fn)
        verdict = php.check(value, out, PAIRS)
        assert verdict["ok"], (code, verdict)


def test_random_mutations_validate_like_php(php: PhpOracle) -> None:
    rng = random.Random(7)
    alphabet = b'aOCsSidbNrR:;{}"0123456789-+.E\\x'
    checked = 0
    for _ in range(150):
        value = bytearray(php.build(random_php_expr(rng, FRAGMENTS)))
        for _ in range(rng.randint(1, 3)):
            op, at = rng.random(), rng.randrange(len(value) + 1)
            if op < 0.4 and at < len(value):
                value[at] = rng.choice(alphabet)
            elif op < 0.7 and at < len(value):
                del value[at]
            else:
                value.insert(at, rng.choice(alphabet))
        ours, theirs = validate(bytes(value)), php.unserialize_ok(bytes(value), strict=True)
        if b"E:" in value and ours and not theirs:
            continue  # enums are accepted by shape; PHP needs the enum class
        assert ours == theirs, bytes(value)
        checked += 1
    assert checked > 100


def test_walk_speed_is_linear() -> None:
    big = b"a:200000:{" + b"".join(b'i:%d;s:9:"some text";' % i for i in range(200_000)) + b"}"
    t0 = time.perf_counter()
    assert validate(big)
    assert transform_strings(big, fn, visit=lambda b: b"<" in b) is big
    assert time.perf_counter() - t0 < 5  # ~6 MB; typically well under a second


def test_huge_numbers_are_format_errors_not_crashes(php: PhpOracle) -> None:
    nines = b"9" * 5000
    for value in (b's:' + nines + b':"a";', b"a:" + nines + b":{}", b'O:1:"X":' + nines + b":{}",
                  b"i:" + nines + b";", b's:' + b"0" * 30 + b'1:"a";'):
        assert validate(value) == php.unserialize_ok(value), value[:30]
