"""Converted outputs back to the source model's order: one reading of tensor names for
detection (which output is the fused edge map, the region) and parity (which to compare)."""

from docscan.convert.parity import _output_order
from docscan.tflite_names import UNKNOWN, source_index


def test_source_index_reads_the_converters_names():
    assert source_index("Identity") == 0
    assert source_index("Identity_6") == 6
    assert source_index("model/Identity_2") == 2
    assert source_index("StatefulPartitionedCall:3") == 3
    assert source_index("StatefulPartitionedCall_1:0") == 0
    assert source_index("fused") == UNKNOWN
    assert source_index("Identity_x") == UNKNOWN


def test_parity_orders_outputs_by_source_index_and_leaves_unreadable_names_alone():
    d = [{"name": n} for n in ("Identity_2", "StatefulPartitionedCall:0", "scope/Identity_1")]
    assert [x["name"] for x in _output_order(d)] == ["StatefulPartitionedCall:0", "scope/Identity_1", "Identity_2"]
    unknown = [{"name": "b"}, {"name": "Identity"}]
    assert _output_order(unknown) == unknown
    twice = [{"name": "Identity_1"}, {"name": "x:1"}]
    assert _output_order(twice) == twice
