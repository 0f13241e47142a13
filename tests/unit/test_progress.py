from wpmigrate.progress import FULL_ACCESS_WEIGHTS, progress


def test_nothing_started() -> None:
    assert progress({}) == (0, "validate_source")


def test_half_way_running_import() -> None:
    states = {t: "success" for t in ("validate_source", "wait_for_window", "provision_target",
                                     "export_database", "export_files")}
    states["import_database"] = "running"
    assert progress(states) == (45, "import_database")


def test_all_done() -> None:
    assert progress({t: "success" for t in FULL_ACCESS_WEIGHTS}) == (100, None)
