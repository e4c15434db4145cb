"""Which output of the source model a converted .tflite output tensor is, from its name."""

from __future__ import annotations

import re

UNKNOWN = 1 << 30


def source_index(tensor_name: str) -> int:
    """Output k of the source model from a converter's tensor name: "StatefulPartitionedCall:k",
    "Identity_k" ("Identity" = 0), with or without a scope prefix; ``UNKNOWN`` when the name
    tells nothing."""
    m = re.fullmatch(r".*:(\d+)", tensor_name) or re.fullmatch(r"(?:.*/)?Identity_(\d+)", tensor_name)
    if m:
        return int(m.group(1))
    return 0 if re.fullmatch(r"(?:.*/)?Identity", tensor_name) else UNKNOWN
