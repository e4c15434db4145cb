"""Generator v5 (``docscan.train.synth.desk``): the hard real-photo conditions appear in
the stream, hide what they cover of the page outline, and leave every other scene as
generator v4 drew it."""

from __future__ import annotations

import numpy as np

from docscan.train.synth import desk, make_sample


def _stream(n, tmp_path, size=(64, 64)):
    out = []
    for i in range(n):
        trace = {}
        out.append((make_sample(11, i, size, shared_dir=tmp_path, trace=trace), trace))
    return out


def test_every_v5_element_appears(tmp_path):
    seen = set()
    for _, trace in _stream(60, tmp_path):
        seen.update(trace["desk"])
    assert seen == {"table", "cluttered", "notebook", "mug", "cable"}


def test_mugs_and_cables_hide_the_outline_they_cover(tmp_path):
    for index in range(200):
        scene = desk.scene_rng(11, index)
        if scene.mug and not scene.table:
            break
    trace = {}
    sample = make_sample(11, index, (96, 96), shared_dir=tmp_path, trace=trace)
    assert trace["occluded"]
    # the page region label stays the whole page: the mug does not cut it
    assert sample.region.sum() > 0
    drawn = trace["drawn"] > 0.5
    assert (sample.region > 0.5)[drawn].mean() > 0.95


def test_scenes_without_v5_elements_are_v4_pictures(tmp_path, monkeypatch):
    plain = [i for i in range(40) if not desk.scene_rng(11, i).names()]
    assert len(plain) >= 5
    now = {i: make_sample(11, i, (48, 64), shared_dir=tmp_path) for i in plain}
    for name in ("TABLE_TOP", "CLUTTERED", "NOTEBOOK", "MUG", "CABLE"):
        monkeypatch.setattr(desk, name, 0.0)
    for i in plain:
        before = make_sample(11, i, (48, 64), shared_dir=tmp_path)
        assert np.array_equal(before.image, now[i].image) and np.array_equal(before.edges, now[i].edges)
