"""A run's outputs staged beside the live folder and put in place together (pipelines/write/staging.py),
without Dagster."""

import os

from pipelines.write.staging import begin, put_in_place, staging_folder


def _replace(path, text):
    """As every writer of the pipeline writes: a new file renamed over the old one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def test_only_what_the_run_wrote_is_put_in_place_and_nothing_before_it_ends(tmp_path):
    live = tmp_path / "reports"
    (live / "members" / "Q1").mkdir(parents=True)
    (live / "authorities" / "Barnet").mkdir(parents=True)
    _replace(live / "members" / "Q1" / "theme.xlsx", "release 1")
    _replace(live / "members" / "index.html", "page 1")
    _replace(live / "authorities" / "Barnet" / "feedback.xlsx", "feedback 1")

    staged = begin(live, "run-2")
    assert staged == staging_folder(live, "run-2") and not staged.is_relative_to(live)
    _replace(staged / "members" / "Q1" / "theme.xlsx", "release 2")
    (staged / "members" / "Q2").mkdir()
    _replace(staged / "members" / "Q2" / "theme.xlsx", "new quarter")
    # Meanwhile the feedback, written straight to the live folder, gets a new answer.
    _replace(live / "authorities" / "Barnet" / "feedback.xlsx", "feedback 2")
    assert begin(live, "run-2") == staged  # the run's later steps reuse its copy
    # Nothing of the run is live until its last step.
    assert (live / "members" / "Q1" / "theme.xlsx").read_text() == "release 1"
    assert not (live / "members" / "Q2").exists()

    assert put_in_place(live, "run-2") == 2
    assert (live / "members" / "Q1" / "theme.xlsx").read_text() == "release 2"
    assert (live / "members" / "Q2" / "theme.xlsx").read_text() == "new quarter"
    assert (live / "members" / "index.html").read_text() == "page 1"
    assert (live / "authorities" / "Barnet" / "feedback.xlsx").read_text() == "feedback 2"
    assert not staged.exists() and list(staged.parent.iterdir()) == []


def test_a_failed_runs_copy_is_dropped_by_the_next_run_and_deletions_reach_exports(tmp_path):
    live = tmp_path / "exports"
    (live / "Q1").mkdir(parents=True)
    _replace(live / "Q1" / "benchmarks.parquet", "old name")
    _replace(live / "Q1" / "benchmarks RESTRICTED.parquet", "v1")
    failed = begin(live, "run-1")
    _replace(failed / "Q1" / "benchmarks RESTRICTED.parquet", "half done")  # then it failed
    staged = begin(live, "run-2")
    assert not failed.exists()
    (staged / "Q1" / "benchmarks.parquet").unlink()
    _replace(staged / "Q1" / "benchmarks RESTRICTED.parquet", "v2")
    assert put_in_place(live, "run-2", deletions=True) == 1
    assert sorted(p.name for p in (live / "Q1").iterdir()) == ["benchmarks RESTRICTED.parquet"]
    assert (live / "Q1" / "benchmarks RESTRICTED.parquet").read_text() == "v2"
    assert put_in_place(live, "run-3") == 0  # a run that staged nothing changes nothing
