"""Rewriting as text never turns a value PHP cannot unserialize into one it can.

A malformed serialized value is rewritten as plain text (the old URL must not
survive), but a wrong ``s:N:`` can match the NEW URL's length: the rewritten bytes
would then unserialize, possibly into an object nobody stored. PHP is the judge
(tests/unit/rewrite/php_oracle.php), lenient as PHP 8.2 is about trailing bytes.
"""

from __future__ import annotations

import random

import pytest
from _php_oracle import PhpOracle, oracle_fixture

from wpmigrate.rewrite.serialized_guard import becomes_unserializable, unserializable
from wpmigrate.rewrite.url_rewrite import BECOMES_SERIALIZED, UrlRewriter

php = pytest.fixture(scope="module")(oracle_fixture)

OLD_URL = b"http://old.example"
NEW_URL = b"https://www.old.example.org"
FITS_NEW = len(NEW_URL)  # an s:N: that is wrong today and right after the rewrite


def make() -> UrlRewriter:
    return UrlRewriter.for_migration([OLD_URL.decode()], NEW_URL.decode())


# Each is invalid as stored; replacing the URL as text would make it valid.
ADVERSARIAL = {
    "string": b's:%d:"%s";' % (FITS_NEW, OLD_URL),
    "object": b'O:8:"stdClass":1:{s:3:"url";s:%d:"%s";}' % (FITS_NEW, OLD_URL),
    "object-in-array": b'a:2:{i:0;O:8:"stdClass":1:{s:1:"u";s:%d:"%s";}i:1;b:1;}' % (FITS_NEW, OLD_URL),
    "unknown-class": b'O:13:"Unknown_Class":1:{s:4:"home";s:%d:"%s";}' % (FITS_NEW, OLD_URL),
    "custom-object": b'C:7:"Unknown":%d:{%s}' % (FITS_NEW, OLD_URL),
    "trailing-bytes": b's:%d:"%s";</p>' % (FITS_NEW, OLD_URL),
    "whitespace": b' \n' + b's:%d:"%s";' % (FITS_NEW, OLD_URL) + b'\n',
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_invalid_value_is_not_brought_to_life(php: PhpOracle, name: str) -> None:
    value = ADVERSARIAL[name]
    assert not php.unserialize_ok(value.strip(), strict=False)
    # What a plain text replacement would give: PHP accepts it.
    assert php.unserialize_ok(value.replace(OLD_URL, NEW_URL).strip(), strict=False)
    rw = make()
    out = rw.rewrite(value, where="wp_options:option_value:x")
    assert out == value
    assert not php.unserialize_ok(out.strip(), strict=False)
    st = rw.stats
    assert (st.unparseable, st.unparseable_rewritten, st.values_changed, st.replacements) == (1, 0, 0, 0)
    assert st.samples[0]["reason"] == "unparseable"
    assert BECOMES_SERIALIZED in st.samples[0]["detail"]
    assert st.samples[0]["where"] == "wp_options:option_value:x"


def test_nested_payload_is_not_brought_to_life(php: PhpOracle) -> None:
    inner = ADVERSARIAL["custom-object"]
    value = b'a:2:{i:0;s:%d:"%s";i:1;s:%d:"%s";}' % (len(inner), inner, len(OLD_URL), OLD_URL)
    rw = make()
    out = rw.rewrite(value)
    # The outer value is rewritten (its own string), the nested broken one left alone.
    assert out == b'a:2:{i:0;s:%d:"%s";i:1;s:%d:"%s";}' % (len(inner), inner, len(NEW_URL), NEW_URL)
    assert php.unserialize_ok(out)
    assert rw.stats.skipped_parts == 1
    assert rw.stats.samples[0]["reason"] == "would_become_serialized"


@pytest.mark.parametrize("value", [
    b'a:1:{i:0;s:99:"http://old.example";}',  # stays broken: rewritten as text
    b's:5:"http://old.example";',
    b'O:8:"stdClass":1:{s:3:"url";s:2:"http://old.example";}',
    b'C:7:"Unknown":3:{http://old.example}',
])
def test_malformed_value_that_stays_invalid_is_rewritten_as_text(php: PhpOracle, value: bytes) -> None:
    rw = make()
    out = rw.rewrite(value)
    assert out == value.replace(OLD_URL, NEW_URL)
    assert not php.unserialize_ok(out.strip(), strict=False)
    assert rw.stats.values_changed == 1


def test_valid_values_are_still_rewritten(php: PhpOracle) -> None:
    value = php.build('[(object)["u" => "http://old.example/a"], "C" => \'C:7:"Unknown":3:{abc}\']')
    out = make().rewrite(value)
    assert b"http://old.example" not in out and php.unserialize_ok(out)


def _random_serialized(rng: random.Random, depth: int = 0) -> bytes:
    """Valid serialized bytes whose strings often hold the NEW URL (so swapping it for
    the old one leaves every s:N: wrong by exactly what the rewrite adds)."""
    roll = rng.random()
    if depth < 3 and roll < 0.35:
        items = [_random_serialized(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        body = b"".join(b"i:%d;%s" % (k, v) for k, v in enumerate(items))
        if rng.random() < 0.4:
            props = b"".join(b's:1:"%d";%s' % (k, v) for k, v in enumerate(items))
            return b'O:8:"stdClass":%d:{%s}' % (len(items), props)
        return b"a:%d:{%s}" % (len(items), body)
    if roll < 0.45:
        return rng.choice([b"i:3;", b"b:1;", b"N;", b"d:0.5;"])
    if roll < 0.55:
        return b'C:7:"Unknown":%d:{%s}' % (len(NEW_URL), NEW_URL)
    text = rng.choice([NEW_URL, NEW_URL + b"/p", b"x " + NEW_URL, b"plain"])
    return b's:%d:"%s";' % (len(text), text)


def test_no_rewrite_turns_invalid_into_valid(php: PhpOracle) -> None:
    """Valid values with the new URL swapped back to the old one in some places (and
    some bytes appended or cut): whatever PHP refused before, it refuses after."""
    rng = random.Random(11)
    rw = make()
    checked = 0
    for _ in range(400):
        valid = _random_serialized(rng)
        parts = valid.split(NEW_URL)
        value = parts[0] + b"".join(rng.choice([OLD_URL, NEW_URL]) + p for p in parts[1:])
        value += rng.choice([b"", b"", b"</p>", b" "])
        if rng.random() < 0.1:
            value = value[:-1]
        if OLD_URL not in value or php.unserialize_ok(value.strip(), strict=False):
            continue
        out = rw.rewrite(value)
        assert not php.unserialize_ok(out.strip(), strict=False), (value, out)
        checked += 1
    assert checked > 100


def test_guard_is_cheap_for_text() -> None:
    assert not unserializable(b"<p>http://old.example</p>")
    assert unserializable(b'  s:1:"x";')
    assert unserializable(b"N;")
    old = b's:27:"http://old.example";'
    assert becomes_unserializable(old, old.replace(OLD_URL, NEW_URL))
    assert not becomes_unserializable(old, old)
