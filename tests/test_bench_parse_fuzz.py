"""`docscan bench --parse` on damaged copies of the real benchmark_model logs: every case
ends in a report (exit 0) or a one-line error (exit 2), never a traceback. 400 cases go
to the parser, 60 through the command (its tables, JSON and a few charts).

Mutations, seeded: truncation, deleted / duplicated / swapped lines, flipped bytes, and
numbers replaced by nan, inf, huge, negative or empty values (the .tflite inspector is
fuzzed the same way in test_inventory.py).
"""

from __future__ import annotations

import random
import re

import pytest
from click.testing import CliRunner
from conftest import shared_dir

from docscan.bench.benchmark_model import parse_log
from docscan.cli import main
from docscan.errors import DocscanError

FIXTURES = shared_dir() / "fixtures" / "benchmark_model"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_BAD_NUMBERS = ("nan", "NaN", "inf", "-inf", "+inf", "1e400", "1e-400", "-1", "0", "", "x", "99999999999999999999")


def mutate(text: str, rng: random.Random, kind: int) -> str:
    lines = text.splitlines(keepends=True)
    if kind == 0:                                       # truncated anywhere
        return text[:rng.randrange(len(text) + 1)]
    if kind == 1:                                       # lines deleted
        for _ in range(rng.randint(1, 6)):
            if lines:
                del lines[rng.randrange(len(lines))]
    elif kind == 2:                                     # lines duplicated elsewhere
        for _ in range(rng.randint(1, 6)):
            lines.insert(rng.randrange(len(lines) + 1), lines[rng.randrange(len(lines))])
    elif kind == 3:                                     # lines swapped
        for _ in range(rng.randint(1, 4)):
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    elif kind == 4:                                     # bytes flipped
        data = bytearray(text.encode())
        for _ in range(rng.randint(1, 24)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return data.decode("utf-8", "replace")
    else:                                               # numbers corrupted
        spans = list(_NUMBER.finditer(text))
        for m in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 12))), key=lambda m: -m.start()):
            text = text[:m.start()] + rng.choice(_BAD_NUMBERS) + text[m.end():]
        return text
    return "".join(lines)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    logs = sorted(FIXTURES.glob("*.txt"))
    if not logs:
        pytest.skip(f"benchmark_model fixtures not found at {FIXTURES} (set DOCSCAN_SHARED)")
    return [p.read_text(encoding="utf-8", errors="replace") for p in logs]


def test_damaged_logs_parse_or_raise_docscan_error(texts):
    """The parser itself, 400 cases: a ModelRun or a DocscanError naming the file."""
    rng = random.Random(20240614)
    outcomes = {"parsed": 0, "rejected": 0}
    for case in range(400):
        try:
            parse_log(mutate(rng.choice(texts), rng, case % 6), f"case{case}.txt")
            outcomes["parsed"] += 1
        except DocscanError as exc:
            assert str(exc).startswith(f"case{case}.txt: ") and "\n" not in str(exc), str(exc)
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 40 and outcomes["parsed"] > 40     # the mutations reach both outcomes


def test_damaged_logs_through_the_cli_give_a_report_or_a_one_line_error(texts, tmp_path):
    """`docscan bench --parse`, 60 cases: exit 0 with a report, or exit 2 with one line."""
    rng = random.Random(7)
    runner = CliRunner()
    outcomes = {0: 0, 2: 0}
    for case in range(60):
        log = tmp_path / f"case{case}.txt"
        log.write_text(mutate(rng.choice(texts), rng, case % 6), encoding="utf-8")
        out = tmp_path / f"out{case}"
        png = [] if case % 20 == 0 else ["--no-png"]       # a few charts: they meet the odd numbers too
        res = runner.invoke(main, ["bench", "--parse", str(log), "-o", str(out), "-q", *png])
        assert res.exit_code in (0, 2) and not isinstance(res.exception, Exception), (case, res.output)
        assert "Traceback" not in res.output, (case, res.output)
        if res.exit_code == 2:
            lines = [ln for ln in res.output.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith(f"error: {log}: "), (case, res.output)
            assert not out.exists()
        else:
            assert (out / "docscan-bench.json").is_file()
        outcomes[res.exit_code] += 1
    assert outcomes[2] > 5 and outcomes[0] > 5
