"""The allow-list sanitiser: executable content goes, WordPress content stays as written."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.html.sanitize import (
    COUNT_KEYS,
    IFRAME_HOSTS,
    is_safe_style,
    is_safe_url,
    sanitize_html,
)

BASE = "https://source.example/post/"


def clean(html: str) -> str:
    return sanitize_html(html, BASE)[0]


def assert_inert(output: str) -> None:
    """No script-capable element, event handler or script URL survives, however parsed."""
    soup = BeautifulSoup(output, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name not in {"script", "style", "svg", "math", "object", "embed", "base", "meta", "link",
                                "form", "frame", "noscript", "template"}, output
        if tag.name == "iframe":
            assert urlsplit(str(tag.get("src"))).hostname in IFRAME_HOSTS and not tag.contents, output
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), output
            text = " ".join(value) if isinstance(value, list) else str(value)
            squashed = re.sub(r"[\s\x00-\x1f]", "", text).lower()
            assert "javascript:" not in squashed and "vbscript:" not in squashed, output
            assert "data:text" not in squashed, output
            assert "expression(" not in squashed, output
    # And the same with a stricter look at the raw text: nothing that starts a tag.
    assert "<script" not in output.lower()


XSS_CASES = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.test/x.js></SCRIPT>",
    "<p>a<script>alert(1)</script>b</p>",
    "<img src=x onerror=alert(1)>",
    "<img src=x OnError=alert(1)>",
    "<img src=x ONERROR='alert(1)'>",
    "<body onload=alert(1)><p>x</p></body>",
    "<img/src=x/onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)">x</a>',
    '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="  \x01javascript:alert(1)">x</a>',
    '<a href="&amp;#106;avascript:alert(1)">x</a>',
    '<a href="java\u200bscript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<svg onload=alert(1)><circle r=1></circle></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><img src=x onerror=alert(1)></mtext></math>",
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="background:url(&quot;jav\\61script:alert(1)&quot;)">x</div>',
    '<div style="behavior: url(x.htc)">x</div>',
    "<style>@import 'http://evil.test/x.css';</style><p>x</p>",
    '<iframe src="https://evil.test/"></iframe>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe src="https://evil.test\\@www.youtube.com/embed/x"></iframe>',
    '<iframe src="http://www.youtube.com/embed/x"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>',
    "<template><img src=x onerror=alert(1)></template>",
    '<img src="x" srcset="javascript:alert(1) 1x, ok.jpg 2x">',
    '<video poster="javascript:alert(1)" src="v.mp4"></video>',
    '<a href="x" data-href="javascript:alert(1)">x</a>',
    "<custom-el onclick=alert(1)>text</custom-el>",
    "<img src=x onerror=alert(1)//",
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    '<p title="&lt;img src=x onerror=alert(1)&gt;">x</p>',
    '<p data-a"onmouseover=alert(1)//="x" data-ok="1">t</p>',
    '<iframe src="https://www.youtube.com/embed/x" onload="alert(1)"><script>alert(1)</script></iframe>',
    '<a href="https://x.test/" style="background:url(data:text/html,<script>alert(1)</script>)">x</a>',
]


@pytest.mark.parametrize("payload", XSS_CASES)
def test_xss_payloads_are_inert(payload: str) -> None:
    output = clean(payload)
    assert_inert(output)
    # Sanitising is idempotent: a second pass changes nothing.
    assert clean(output) == output


def test_escaped_markup_in_attribute_stays_escaped_text() -> None:
    output = clean('<p title="&lt;img src=x onerror=alert(1)&gt;">x</p>')
    soup = BeautifulSoup(output, "html.parser")
    assert soup.find("img") is None
    assert soup.p["title"] == "<img src=x onerror=alert(1)>"


def test_counts_name_what_was_removed() -> None:
    html = ('<p onclick="x()">a<script>1</script><style>p{}</style><!-- c -->'
            '<a href="javascript:x">l</a><span style="width:expression(1)">s</span>'
            '<iframe src="https://evil.test/"></iframe><font color=red>f</font><b foo=1>b</b></p>')
    output, counts = sanitize_html(html, BASE)
    assert set(counts) == set(COUNT_KEYS)
    assert counts["scripts"] == 1
    assert counts["styles"] == 1
    assert counts["comments"] == 1
    assert counts["event_handlers"] == 1
    assert counts["unsafe_urls"] == 1
    assert counts["unsafe_styles"] == 1
    assert counts["iframes"] == 1
    assert counts["unwrapped_elements"] == 1
    assert counts["other_attributes"] == 1
    assert "f" in BeautifulSoup(output, "html.parser").get_text()  # unwrapped, text kept


def test_protocol_relative_allowlisted_iframe_loses_children_and_handlers() -> None:
    output = clean('<iframe src="//player.vimeo.com/video/1" onload="x()">fallback <b>text</b></iframe>')
    assert output == '<iframe src="//player.vimeo.com/video/1"></iframe>'


def test_target_blank_gets_noopener() -> None:
    soup = BeautifulSoup(clean('<a href="https://x.test/" target="_blank">x</a>'), "html.parser")
    assert soup.a["rel"] == ["noopener", "noreferrer"]
    soup = BeautifulSoup(clean('<a href="/" target="_BLANK" rel="nofollow noopener">x</a>'), "html.parser")
    assert soup.a["rel"] == ["nofollow", "noopener", "noreferrer"]


def test_comments_are_removed_including_block_markup() -> None:
    output, counts = sanitize_html("<!-- wp:paragraph --><p>x</p><!-- /wp:paragraph -->", BASE)
    assert output == "<p>x</p>"
    assert counts["comments"] == 2


def test_odd_attribute_names_are_dropped() -> None:
    output, counts = sanitize_html('<p data-a"b="x" data-ok="1" aria-label="L">t</p>', BASE)
    assert output == '<p data-ok="1" aria-label="L">t</p>'
    assert counts["other_attributes"] == 1


def test_allowlisted_iframe_is_kept() -> None:
    html = ('<figure class="wp-block-embed"><iframe title="v" width="560" height="315" '
            'src="https://www.youtube.com/embed/abc?feature=oembed" frameborder="0" '
            'allow="autoplay; encrypted-media" allowfullscreen></iframe></figure>')
    assert clean(html) == html


@pytest.mark.parametrize(
    "html",
    [
        '<h2 class="wp-block-heading" id="intro">Intro</h2>\n<p>Text with <strong>bold</strong>, <em>em</em>'
        ' and <a href="https://source.example/about/">a link</a>.</p>',
        "<ul><li>One</li><li>Two<ol start=\"3\"><li>Three</li></ol></li></ul>",
        '<figure class="wp-block-image size-large"><img decoding="async" loading="lazy" width="1024" '
        'height="640" src="https://source.example/wp-content/uploads/a-1024x640.jpg" alt="A" '
        'class="wp-image-11" srcset="https://source.example/wp-content/uploads/a-1024x640.jpg 1024w, '
        'https://source.example/wp-content/uploads/a-300x188.jpg 300w" sizes="(max-width: 1024px) 100vw, '
        '1024px"><figcaption class="wp-element-caption">Caption</figcaption></figure>',
        '<table class="has-fixed-layout"><thead><tr><th colspan="2">H</th></tr></thead>'
        "<tbody><tr><td>a</td><td>b</td></tr></tbody></table>",
        "<blockquote class=\"wp-block-quote\"><p>Quote</p><cite>Someone</cite></blockquote>",
        '<p>Grüße aus 東京! 🍣🍵 漢字かなカナ 한국어 — «quotes» &amp; emoji 🚀 👩‍💼</p>',
        '<div class="wp-block-cover"><span aria-hidden="true" class="wp-block-cover__background '
        'has-background-dim"></span><img class="wp-block-cover__image-background" alt="" '
        'src="/wp-content/uploads/g.jpg" data-object-fit="cover">'
        '<div class="wp-block-cover__inner-container">'
        '<p class="has-text-align-center">Cover</p></div></div>',
        '<div class="logo-strip" style="background-image: url(\'https://source.example/logo.png\')">x</div>',
        "<pre class=\"wp-block-code\"><code>if (a &lt; b &amp;&amp; c) {}\n  indented</code></pre>",
        '<p>Line one<br>line two</p><hr class="wp-block-separator">',
        '<details open><summary>More</summary><p>Hidden</p></details>',
        '<video controls src="https://source.example/v.mp4" poster="/p.jpg"></video>',
        '<a href="mailto:a@example.test">mail</a> <a href="tel:+123">tel</a> <a href="#top">top</a>',
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">',
    ],
)
def test_safe_content_is_preserved(html: str) -> None:
    output, counts = sanitize_html(html, BASE)
    assert output == html
    assert not any(counts.values())


def test_self_closing_void_elements_serialise_as_html() -> None:
    assert clean('<p>a<br />b<img src="x.jpg" alt="" /></p>') == '<p>a<br>b<img src="x.jpg" alt=""></p>'


def test_is_safe_url() -> None:
    assert is_safe_url("/relative/path")
    assert is_safe_url("https://x.test/?a=1&b=2")
    assert is_safe_url("//cdn.test/x.png")
    assert not is_safe_url("javascript:alert(1)")
    assert not is_safe_url("data:image/png;base64,AAAA")
    assert is_safe_url("data:image/png;base64,AAAA", allow_data_image=True)
    assert not is_safe_url("data:image/svg+xml,<svg/onload=alert(1)>", allow_data_image=True)


def test_is_safe_style() -> None:
    assert is_safe_style("color: red; background: url(/bg.png)")
    assert not is_safe_style("x: e\\78 pression(alert(1))")
    assert not is_safe_style("x: exp/**/ression(alert(1))")
    assert not is_safe_style("background: url('javascript:alert(1)')")
