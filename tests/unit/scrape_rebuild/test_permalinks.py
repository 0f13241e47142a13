"""Inferring a source's permalink structure from its posts' links."""

from __future__ import annotations

import pytest

from wpmigrate.scrape_rebuild.permalinks import PostSample, infer_structure, sample_from_rest, structure_of


def _post(path: str, *, date: str = "2024-05-05T07:08:09", slug: str = "hello", post_id: int = 42,
          categories: tuple[str, ...] = ()) -> PostSample:
    return PostSample(path=path, date=date, slug=slug, post_id=post_id, category_paths=categories)


@pytest.mark.parametrize(("path", "structure"), [
    ("/2024/05/hello/", "/%year%/%monthnum%/%postname%/"),
    ("/2024/05/05/hello/", "/%year%/%monthnum%/%day%/%postname%/"),  # month and day both 05
    ("/hello/", "/%postname%/"),
    ("/hello", "/%postname%"),
    ("/archives/42", "/archives/%post_id%"),
    ("/index.php/2024/hello/", "/index.php/%year%/%postname%/"),
    ("/news/world/hello/", "/%category%/%postname%/"),  # the longest category path wins
    ("/blog/hello.html", None),  # a slug with a suffix: no value this segment is built from
])
def test_structure_of_one_post(path: str, structure: str | None) -> None:
    assert structure_of(_post(path, categories=("news", "news/world"))) == structure


def test_non_ascii_slugs_compare_decoded() -> None:
    slug = "%e6%9d%b1%e4%ba%ac-cafe"  # as the REST API gives it
    assert structure_of(_post(f"/{slug}/", slug=slug)) == "/%postname%/"


def test_a_site_in_a_subfolder_keeps_its_folder_out_of_the_structure() -> None:
    assert structure_of(_post("/wp/2024/hello/"), "/wp/") == "/%year%/%postname%/"
    assert structure_of(_post("/elsewhere/hello/"), "/wp/") is None


def test_every_sample_must_agree() -> None:
    agreeing = [_post(f"/2024/05/p{i}/", slug=f"p{i}") for i in range(5)]
    assert infer_structure(agreeing).structure == "/%year%/%monthnum%/%postname%/"
    odd = [*agreeing, _post("/p9/", slug="p9")]
    result = infer_structure(odd)
    assert result.structure is None and (result.samples, result.agreeing) == (6, 5)
    assert "2 different patterns" in result.reason
    assert infer_structure([]).structure is None


def test_plain_links_give_no_structure() -> None:
    sample = sample_from_rest({"link": "http://old.test/?p=42", "date": "2024-05-05T07:08:09",
                               "slug": "hello", "id": 42})
    assert sample is not None and infer_structure([sample]).structure is None


def test_rest_records_without_what_a_path_needs_are_left_out() -> None:
    assert sample_from_rest({"link": "http://old.test/hello/", "date": "2024-05-05T07:08:09",
                             "slug": ""}) is None
    assert sample_from_rest({"link": "http://old.test/hello/", "date": "2024-05-05T07:08:09",
                             "slug": "hello", "id": "x"}) is None
