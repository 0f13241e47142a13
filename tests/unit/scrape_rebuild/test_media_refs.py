"""Finding and rewriting media references in scraped HTML."""

from __future__ import annotations

from bs4 import BeautifulSoup

from wpmigrate.scrape_rebuild.html.media_refs import (
    absolutize_urls,
    media_urls,
    parse_srcset,
    rewrite_media_urls,
)
from wpmigrate.scrape_rebuild.upload_urls import file_url, source_hosts

BASE = "https://source.example/blog/post/"
UP = "https://source.example/wp-content/uploads"


def test_parse_srcset_plain_and_with_commas_in_urls() -> None:
    assert parse_srcset("a.jpg 1x, b.jpg 2x") == [("a.jpg", "1x"), ("b.jpg", "2x")]
    assert parse_srcset("a.jpg 300w,b.jpg 600w") == [("a.jpg", "300w"), ("b.jpg", "600w")]
    # Image CDNs put commas inside the URL.
    cdn = ("https://cdn.test/image/upload/w_300,h_200,c_fill/a.jpg 300w, "
           "https://cdn.test/image/upload/w_600,h_400/a.jpg 600w")
    assert parse_srcset(cdn) == [
        ("https://cdn.test/image/upload/w_300,h_200,c_fill/a.jpg", "300w"),
        ("https://cdn.test/image/upload/w_600,h_400/a.jpg", "600w"),
    ]
    assert parse_srcset("only.jpg") == [("only.jpg", "")]
    # As browsers do: a URL runs to the next whitespace, commas included; trailing ones end it.
    assert parse_srcset("a.jpg,b.jpg 2x") == [("a.jpg,b.jpg", "2x")]
    assert parse_srcset("a.jpg, b.jpg 2x,") == [("a.jpg", ""), ("b.jpg", "2x")]
    assert parse_srcset("  ") == []


def test_media_urls_finds_every_kind_of_reference() -> None:
    html = f"""
    <p><img src="/wp-content/uploads/a.jpg" srcset="{UP}/a-300x200.jpg 300w, {UP}/a.jpg 1024w"></p>
    <img src="data:image/gif;base64,R0lGOD" data-src="{UP}/lazy.jpg" data-srcset="{UP}/lazy-2x.jpg 2x">
    <img data-lazy-src="{UP}/rocket.webp">
    <picture><source srcset="{UP}/p.avif" type="image/avif"><img src="{UP}/p.jpg"></picture>
    <video poster="{UP}/poster.jpg"><source src="{UP}/v.mp4" type="video/mp4"></video>
    <audio src="{UP}/a.mp3"></audio>
    <div style="background-image: url('{UP}/bg.png')"></div>
    <style>.x {{ background: url("{UP}/css.png") }} .y {{ background: url({UP}/css2.png) }}</style>
    <a href="{UP}/doc.pdf">pdf</a> <a href="https://source.example/about/">page</a>
    <div data-bg="{UP}/bg2.jpg"></div> <div data-src="https://source.example/not-media/">x</div>
    """
    assert media_urls(html, BASE) == [
        f"{UP}/a.jpg", f"{UP}/a-300x200.jpg", f"{UP}/lazy.jpg", f"{UP}/lazy-2x.jpg", f"{UP}/rocket.webp",
        f"{UP}/p.avif", f"{UP}/p.jpg", f"{UP}/poster.jpg", f"{UP}/v.mp4", f"{UP}/a.mp3", f"{UP}/bg.png",
        f"{UP}/css.png", f"{UP}/css2.png", f"{UP}/doc.pdf", f"{UP}/bg2.jpg",
    ]


def test_media_urls_deduplicates_after_canonicalisation() -> None:
    html = (f'<img src="{UP}/Café.png"><img src="{UP}/Caf%C3%A9.png#frag">'
            '<img src="//source.example/wp-content/uploads/Caf%c3%a9.png">'
            '<a href="/wp-content/uploads/Café.png">x</a>')
    assert media_urls(html, BASE) == [f"{UP}/Caf%C3%A9.png"]


def test_media_urls_with_commas_in_srcset_urls() -> None:
    html = '<img srcset="https://cdn.test/w_300,h_200/a.jpg 300w, https://cdn.test/w_600,h_400/a.jpg 600w">'
    assert media_urls(html, BASE) == ["https://cdn.test/w_300,h_200/a.jpg", "https://cdn.test/w_600,h_400/a.jpg"]


def test_rewrite_replaces_mapped_and_keeps_unmapped() -> None:
    html = (f'<p><img src="{UP}/a.jpg" srcset="{UP}/a.jpg 1024w, {UP}/keep-300.jpg 300w" alt=""'
            ' class="wp-image-1">'
            f'<a href="/wp-content/uploads/a.jpg">full</a> <a href="https://source.example/about/">about</a></p>'
            f'<div style="background:url({UP}/bg.png)"></div><img src="{UP}/other.jpg">'
            f'<img data-src="{UP}/a.jpg" data-srcset="{UP}/unmapped.jpg 2x">')
    mapping = {f"{UP}/a.jpg": "https://target.example/up/a.jpg", f"{UP}/bg.png": "https://target.example/up/bg.png"}
    output, count = rewrite_media_urls(html, mapping, BASE)
    soup = BeautifulSoup(output, "html.parser")
    imgs = soup.find_all("img")
    assert imgs[0]["src"] == "https://target.example/up/a.jpg"
    assert imgs[0]["srcset"] == f"https://target.example/up/a.jpg 1024w, {UP}/keep-300.jpg 300w"
    assert imgs[0]["alt"] == ""
    assert soup.find_all("a")[0]["href"] == "https://target.example/up/a.jpg"
    assert soup.find_all("a")[1]["href"] == "https://source.example/about/"
    assert "https://target.example/up/bg.png" in soup.div["style"]
    assert imgs[1]["src"] == f"{UP}/other.jpg"
    assert imgs[2]["data-src"] == "https://target.example/up/a.jpg"
    assert imgs[2]["data-srcset"] == f"{UP}/unmapped.jpg 2x"  # untouched, not even re-spaced
    assert count == 5


def test_rewrite_inside_style_element_keeps_css_intact() -> None:
    html = f'<style>.a > .b {{ background: url("{UP}/x.png") }}</style>'
    output, count = rewrite_media_urls(html, {f"{UP}/x.png": "https://t.example/x.png"}, BASE)
    assert output == '<style>.a > .b { background: url("https://t.example/x.png") }</style>'
    assert count == 1


def test_rewrite_without_matches_returns_html_unchanged() -> None:
    html = '<p class="a  b">Grüße ☕<br><img src="x.jpg" alt=""></p>'
    assert rewrite_media_urls(html, {}, BASE) == (html, 0)


def test_absolutize_urls() -> None:
    html = ('<a href="../about/">a</a><a href="#top">t</a><a href="mailto:x@y">m</a>'
            '<img src="//cdn.test/i.png" srcset="i.png 1x, /i2.png 2x" data-src="lazy.jpg">'
            '<div style="background:url(bg.png)"></div><a href="https://other.test/">o</a>')
    soup = BeautifulSoup(absolutize_urls(html, BASE), "html.parser")
    links = soup.find_all("a")
    assert [a["href"] for a in links] == ["https://source.example/blog/about/", "#top", "mailto:x@y",
                                          "https://other.test/"]
    assert soup.img["src"] == "https://cdn.test/i.png"
    assert soup.img["srcset"] == "https://source.example/blog/post/i.png 1x, https://source.example/i2.png 2x"
    assert soup.img["data-src"] == "https://source.example/blog/post/lazy.jpg"
    assert "https://source.example/blog/post/bg.png" in soup.div["style"]


def test_rewrite_finds_an_upload_asked_for_with_a_query_and_keeps_the_query() -> None:
    """``?w=604`` and ``?_=1`` name the file without them (``upload_urls.file_url``); the new
    URL keeps the query, so the markup stays the source's and the target serves the file."""
    up, new = "https://old.example/wp-content/uploads/2008/06", "https://new.example/wp-content/uploads/2008/06"
    mapping = {f"{up}/photo.jpg": f"{new}/photo.jpg", f"{up}/song.mp3": f"{new}/song.mp3"}
    html = (f'<img src="{up}/photo.jpg?w=604"'
            f' srcset="{up}/photo.jpg?resize=300,200 300w, {up}/photo.jpg 604w">'
            f'<audio><source src="{up}/song.mp3?_=1"></audio>'
            '<img src="https://cdn.example/wp-content/uploads/2008/06/photo.jpg?w=604">')
    hosts = source_hosts("https://old.example")
    out, count = rewrite_media_urls(html, mapping, "https://old.example/p/",
                                    file_key=lambda url: file_url(url, hosts))
    assert f'src="{new}/photo.jpg?w=604"' in out
    assert f'srcset="{new}/photo.jpg?resize=300,200 300w, {new}/photo.jpg 604w"' in out
    assert f'<source src="{new}/song.mp3?_=1">' in out
    assert "https://cdn.example/wp-content/uploads/2008/06/photo.jpg?w=604" in out  # not the source's
    assert count == 4 and "old.example" not in out
    # Without file_key a query is a different URL, left as it was.
    assert rewrite_media_urls(html, mapping, "https://old.example/p/")[1] == 1
