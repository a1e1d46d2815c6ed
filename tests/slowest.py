"""The ten slowest tests of a suite's streams, from their JUnit XML reports:
`python -m tests.slowest RESULTS.xml ...` (make test prints it at the end)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def slowest(reports: list[str], n: int = 10) -> list[tuple[float, str]]:
    cases = [
        (float(case.get("time", 0)), f"{case.get('classname')}::{case.get('name')}")
        for report in reports
        for case in ET.parse(report).iter("testcase")
    ]
    return sorted(cases, reverse=True)[:n]


if __name__ == "__main__":
    print("The ten slowest tests:")
    for seconds, name in slowest(sys.argv[1:]):
        print(f"{seconds:8.1f} s  {name}")
