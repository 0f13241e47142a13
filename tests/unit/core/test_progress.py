from wpmigrate.core.progress import FULL_ACCESS_WEIGHTS, SCRAPE_REBUILD_WEIGHTS, fold_mapped, progress


def test_nothing_started() -> None:
    assert progress({}) == (0, "validate_source")


def test_half_way_running_import() -> None:
    states = {t: "success" for t in ("validate_source", "wait_for_window", "provision_target",
                                     "export_database", "export_files")}
    states["import_database"] = "running"
    assert progress(states) == (45, "import_database")


def test_all_done() -> None:
    assert progress({t: "success" for t in FULL_ACCESS_WEIGHTS}) == (100, None)


def test_mode_b_mapped_scraping_counts_when_every_batch_is_done() -> None:
    tis = [{"task_id": t, "state": "success"} for t in ("validate_source", "wait_for_window",
                                                         "provision_target", "discover",
                                                         "scrape_comments")]
    tis += [{"task_id": "scrape_content", "map_index": i, "state": s}
            for i, s in enumerate(["success", "running", None])]
    states = fold_mapped(tis)
    assert states["scrape_content"] == "running"
    assert progress(states, SCRAPE_REBUILD_WEIGHTS) == (20, "scrape_content")
    tis[-2:] = [{"task_id": "scrape_content", "map_index": i, "state": "success"} for i in (1, 2)]
    assert progress(fold_mapped(tis), SCRAPE_REBUILD_WEIGHTS) == (40, "download_media")


def test_mode_b_weights_cover_the_dag() -> None:
    assert sum(SCRAPE_REBUILD_WEIGHTS.values()) == 100
    assert progress({t: "success" for t in SCRAPE_REBUILD_WEIGHTS}, SCRAPE_REBUILD_WEIGHTS) == (100, None)
