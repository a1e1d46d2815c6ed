"""`liia validate` as an authority uses it before sending: one return however often it is given,
clear words when there is nothing to check, and quiet when its output is cut short."""

import os
import shutil
import subprocess
import sys

from tests.conftest import PROJECT, SAMPLE

BARNET = SAMPLE / "2026-27-Q2" / "Barnet LIIA return 2026-27 Q2.xlsx"


def _liia(*args, shell_tail: str = ""):
    command = [sys.executable, "-m", "pipelines.service.cli", *map(str, args)]
    if shell_tail:
        return subprocess.run(
            " ".join(f"'{c}'" for c in command) + shell_tail,
            shell=True,
            capture_output=True,
            text=True,
            cwd=PROJECT,
            timeout=120,
        )
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, timeout=120)


def test_the_same_file_given_twice_or_copied_is_one_return(tmp_path):
    copy = shutil.copy(BARNET, tmp_path / "Barnet copy.xlsx")
    result = _liia("validate", BARNET, BARNET, copy)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count(": accepted") == 1
    assert "Barnet copy.xlsx: the same file as Barnet LIIA return 2026-27 Q2.xlsx" in result.stdout
    assert "more than once" not in result.stdout


def test_a_folder_with_nothing_to_check_exits_2_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "readme only").mkdir()
    (tmp_path / "readme only" / "README.md").write_text("Drop returns here.")
    for folder in ("empty", "readme only"):
        result = _liia("validate", tmp_path / folder)
        assert result.returncode == 2
        assert result.stderr.strip().endswith("no files to check in this folder")
        assert len(result.stderr.strip().splitlines()) == 1


def test_output_cut_short_by_head_ends_quietly():
    result = _liia("validate", SAMPLE / "2026-27-Q2", shell_tail=" | head -n 1")
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""


def test_an_output_path_that_is_a_folder_gets_one_line(tmp_path):
    result = _liia("template", "--quarter", "2026-27-Q3", "--out", tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "is a folder" in result.stderr
    not_a_folder = tmp_path / "feedback.xlsx"
    not_a_folder.write_text("")
    result = _liia("validate", BARNET, "--feedback", not_a_folder)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "is a file" in result.stderr
    assert os.listdir(tmp_path) == ["feedback.xlsx"]
