"""Which TFLite runtime can run which op version (docscan/data/op_versions.json).

The table is TensorFlow's own (runtime_version.cc; source and commit named in the
file). An op version the table does not list is newer than the table, so it is
reported as unknown and a target runtime no newer than the table's last entry for
that op is taken as unable to run it.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from docscan.errors import DocscanError

TABLE = Path(__file__).resolve().parents[1] / "data" / "op_versions.json"


@functools.lru_cache(maxsize=1)
def table() -> dict:
    return json.loads(TABLE.read_text())


def parse_version(text: str) -> tuple[int, ...]:
    if not isinstance(text, str) or not re.fullmatch(r"\d+(\.\d+){0,2}", text.strip()):
        raise DocscanError(f"target runtime '{text}' is not a version like 2.4 or 1.15.0")
    parts = tuple(int(p) for p in text.strip().split("."))
    return parts + (0,) * (3 - len(parts))


def min_runtime(op: str, version: int) -> str | None:
    return table()["ops"].get(op, {}).get(str(version))


def max_version(versions) -> str | None:
    known = [v for v in versions if v]
    return max(known, key=parse_version) if known else None


@dataclass
class Blocker:
    op: str
    version: int
    needs: str            # "2.3.0", or "newer than 2.13.0 (not in table)"
    count: int

    def __str__(self):
        return f"{self.op} v{self.version} (needs {self.needs}, {self.count}x)"


def blockers(ops, target: str) -> tuple[list[Blocker], list[str]]:
    """Ops a runtime of version ``target`` cannot run, and ops whose requirement is unknown."""
    tgt = parse_version(target)
    seen: dict[tuple[str, int], Blocker] = {}
    unknown = set()
    for o in ops:
        key = (o.op, o.version)
        req = min_runtime(o.op, o.version)
        if req is None:
            listed = table()["ops"].get(o.op)
            newest = max_version(listed.values()) if listed else None
            if newest and tgt <= parse_version(newest):
                req_text = f"newer than {newest}; version not in the table"
            else:
                unknown.add(f"{o.op} v{o.version}")
                continue
        elif parse_version(req) <= tgt:
            continue
        else:
            req_text = req
        if key in seen:
            seen[key].count += 1
        else:
            seen[key] = Blocker(o.op, o.version, req_text, 1)
    return list(seen.values()), sorted(unknown)
