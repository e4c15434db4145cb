"""Golden hashes of the synthetic stream: same seed, same bytes.

Recorded with the generator as it stood before the restructure (docscan/synth.py of
commit 38c0911); any change to the drawing code, the order of random draws or the
helpers they call shows here. Re-recorded for generator v5 (``synth/desk.py``): the
samples it adds nothing to (0 of either table) kept their old hashes. With ``../shared``'s seed photos (backgrounds, pages) the
real-asset paths are pinned too; without them those cases are skipped and only the
procedural stream is checked.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from docscan.train.synth import iter_samples, make_dataset, make_sample, real_backgrounds, real_pages, write_set


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _sample_digest(s) -> str:
    return _digest(s.image, s.edges, s.corners, s.region)


def _stream_digest(seed, indices, size, shared_dir=None) -> str:
    h = hashlib.sha256()
    for i in indices:
        trace = {}
        s = make_sample(seed, i, size, shared_dir, trace=trace)
        h.update(_sample_digest(s).encode())
        h.update(json.dumps([trace["scene"], trace["kind"], trace["curled"], trace["occluded"]]).encode())
        h.update(_digest(trace["drawn"], trace.get("behind", np.zeros(0))).encode())
    return h.hexdigest()


needs_assets = pytest.mark.skipif(not (real_backgrounds() and real_pages()),
                                  reason="the seed photos in ../shared are not here")

PROCEDURAL = {   # seed 7, (64, 48), no seed photos
    0: "146e50d1708b644df0c4b5d6c5bff934f94443835c7aec8e2ff46f758b22d50f",
    1: "f68784383d9966e4568ebe354abbc0623ced36dc335a25cc4a4a2413a9ee6f8c",
    2: "0095f44353a02b682b62d8bd967cb08368b300d918a0f42879b4303d017c7189",
    5: "79cbb16b3b41a7901af0462df275825bcb1cee03bdaf42ed22d1e6ee27ca5618",
    13: "56359058f960407b7577b104d79ac2dceb2eeecd55413770c9d9b06204441990",
}
WITH_ASSETS = {  # seed 7, (96, 96), the seed photos of ../shared
    0: "e8461ee3515cf18cbcab6b5e22022eefa4e134af5f4e35bec25ff962b0e16f8f",
    1: "736b519aa929688d8ab95053b8fef4030231d6c5f83084de40b9780438ae92fc",
    3: "c319c31e62e83f0973cd24a2a39ddc39fbd90a9fdd7dfcaefc2d2860e70a9f59",
    8: "56988688e3d48f400883b87d2f0abd5703c2802602e4f373c7e42658ee295a83",
    21: "43cf2058ff7435d41fdee6caea503ede0a599721c55453417f6878f6c1b5ffa8",
}
# seed 21, indices 0..59, (64, 64), with traces
STREAM_PROCEDURAL = "83ea15ec7dc746ac86ef22e3ffa043f8013585248b855fddb0a7b3cbac6cf491"
STREAM_WITH_ASSETS = "5f51f87012fed0950e7deb8c9ea3d9fcf217c1fba3662bd6a03d0eab2fe91cb2"
# make_dataset(3, 2, (32, 32), with_region=True), first batch
DATASET = "29d73b47ee0c1e53b60b796194ca856092925d63ee0592ff54f15a9c62f1bf93"
# write_set(..., 3, seed=9, size=(64, 48)): every file's bytes
WRITE_SET = "d2c7d99dbc0919f5d6448a6e3970af29662fc50773e9936c94e40119d7e019fe"


@pytest.mark.parametrize("index", sorted(PROCEDURAL))
def test_procedural_samples(index, tmp_path):
    assert _sample_digest(make_sample(7, index, (64, 48), shared_dir=tmp_path)) == PROCEDURAL[index]


@needs_assets
@pytest.mark.parametrize("index", sorted(WITH_ASSETS))
def test_samples_with_seed_photos(index):
    assert _sample_digest(make_sample(7, index, (96, 96))) == WITH_ASSETS[index]


def test_procedural_stream_with_traces(tmp_path):
    assert _stream_digest(21, range(60), (64, 64), tmp_path) == STREAM_PROCEDURAL


@needs_assets
def test_stream_with_seed_photos_and_traces():
    assert _stream_digest(21, range(60), (64, 64)) == STREAM_WITH_ASSETS


def test_iter_samples_is_make_sample(tmp_path):
    stream = iter_samples(7, (64, 48), tmp_path, start=1)
    assert [_sample_digest(next(stream)) for _ in range(2)] == [PROCEDURAL[1], PROCEDURAL[2]]


@needs_assets  # the default shared folder's seed photos go into these bytes
def test_dataset_batch():
    x, y = next(iter(make_dataset(3, 2, (32, 32), with_region=True)))
    assert _digest(np.asarray(x), np.asarray(y)) == DATASET


@needs_assets  # the default shared folder's seed photos go into these bytes
def test_write_set_bytes(tmp_path):
    write_set(tmp_path / "set", 3, seed=9, size=(64, 48))
    h = hashlib.sha256()
    for f in sorted(p for p in (tmp_path / "set").rglob("*") if p.is_file()):
        h.update(str(f.relative_to(tmp_path / "set")).encode())
        h.update(f.read_bytes())
    assert h.hexdigest() == WRITE_SET
