"""Old URLs spelled with HTML character references or percent-encoding.

Slash references with a plain host are rewritten into the same spelling of the new URL;
escaped host characters are left as they are, counted and sampled (the verifier's scan
fails on them)."""

from __future__ import annotations

import pytest

from wpmigrate.rewrite.escaped_urls import EscapedUrlFinder
from wpmigrate.rewrite.php_serialized import validate
from wpmigrate.rewrite.url_rewrite import ESCAPED_URL, UrlRewriter

OLD = "http://old.example.com"
NEW = "https://new.example"


def make(**kw: object) -> UrlRewriter:
    return UrlRewriter.for_migration([OLD], NEW, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "want"), [
    (b'<a href="https:&#x2F;&#x2F;old.example.com/p">', b'<a href="https:&#x2F;&#x2F;new.example/p">'),
    (b"https:&#x2f;&#x2f;old.example.com&#x2f;p", b"https:&#x2f;&#x2f;new.example&#x2f;p"),
    (b'<a href="http:&#47;&#47;old.example.com&#47;p">', b'<a href="https:&#47;&#47;new.example&#47;p">'),
    (b"src=&#47;&#47;old.example.com/i.png", b"src=&#47;&#47;new.example/i.png"),
    (b"u=http:&sol;&sol;www.old.example.com&sol;", b"u=https:&sol;&sol;new.example&sol;"),
    (b"u=&sol;&sol;old.example.com", b"u=&sol;&sol;new.example"),
    (b"HTTP:&#X2F;&#X2F;OLD.EXAMPLE.COM/x", b"https:&#x2F;&#x2F;new.example/x"),
    # Another host that starts like the old one is not touched.
    (b"&#47;&#47;old.example.com.evil.test/", b"&#47;&#47;old.example.com.evil.test/"),
])
def test_slash_references_are_rewritten_in_the_same_spelling(value: bytes, want: bytes) -> None:
    rw = make()
    assert rw.rewrite(value) == want
    assert rw.stats.escaped_urls == 0


def test_slash_references_in_a_subdirectory_site_and_in_serialized_data() -> None:
    rw = UrlRewriter.for_migration(["http://old.example.com/blog"], NEW)
    value = b"http:&#47;&#47;old.example.com&#47;blog&#47;post"
    assert rw.rewrite(value) == b"https:&#47;&#47;new.example&#47;post"
    inner = b"<img src='https:&#x2F;&#x2F;old.example.com&#x2F;blog&#x2F;a.png'>"
    out = rw.rewrite(b's:%d:"%s";' % (len(inner), inner))
    assert b"old.example.com" not in out and validate(out) and rw.stats.escaped_urls == 0
    # The site path spelled differently from the host's slashes: not a known spelling, reported.
    mixed = b"https:&#x2F;&#x2F;old.example.com/blog/a.png"
    assert rw.rewrite(mixed) == mixed
    assert rw.stats.escaped_urls == 1


ESCAPED_HOSTS = [
    b"<a href='https://&#111;ld.example.com/'>",
    b"<a href='//old&#46;example.com/a'>",
    b"<a href='https://old&#x2e;example.com/'>",
    b"<a href='https://old&#X2E;EXAMPLE.COM/'>",
    b"go=https://%6Fld.example.com/x",
    b"<a href='&#47;&#47;&#111;ld.example.com'>",
    b"<a href='https:&#x2F;&#x2F;old&#46;example.com'>",
    b"<a href='//old&period;example&period;com'>",
    b'{"u":"https:\\/\\/old&#46;example.com"}',
    b"<a href='&#47;/old.example.com/mixed'>",  # slashes in a mix: not a known spelling
]


@pytest.mark.parametrize("value", ESCAPED_HOSTS)
def test_escaped_hosts_are_left_and_reported(value: bytes) -> None:
    rw = make()
    assert rw.rewrite(value, where="wp_posts:post_content:7") == value
    st = rw.stats
    assert st.escaped_urls == 1 and st.values_changed == 0
    assert st.samples[0]["reason"] == "escaped_url" and st.samples[0]["detail"] == ESCAPED_URL
    assert st.samples[0]["where"] == "wp_posts:post_content:7"
    assert rw.stats.to_dict()["escaped_urls"] == 1


def test_escaped_host_next_to_a_rewritten_url_is_still_reported() -> None:
    rw = make()
    out = rw.rewrite_plain(b"<a href='http://old.example.com/a'>a</a> <a href='//&#111;ld.example.com/b'>")
    assert out == b"<a href='https://new.example/a'>a</a> <a href='//&#111;ld.example.com/b'>"
    assert rw.stats.escaped_urls == 1


@pytest.mark.parametrize("value", [
    b"Fish &amp; chips at //other.example.com, width: 100%",
    b"//old.example.community &#47;&#47;old.example.company",
    b"https://new.example/&#111;ld.example.com",  # not after a slash pair
    b"//old&#46;example.org/",
    b"mailto:info@&#111;ld.example.com",
])
def test_other_text_is_not_reported(value: bytes) -> None:
    rw = make()
    assert rw.rewrite(value) == value
    assert rw.stats.escaped_urls == 0


def test_values_without_escapes_never_reach_the_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: EscapedUrlFinder, value: bytes) -> None:
        raise AssertionError(f"searched {value!r}")

    rw = make()
    monkeypatch.setattr(EscapedUrlFinder, "find", boom)
    for value in (b"plain text", b"http://old.example.com/a", b'a:1:{i:0;s:22:"http://old.example.com";}'):
        rw.rewrite(value)
        rw.rewrite_plain(value)
