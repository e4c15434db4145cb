"""Golden hashes of the synthetic stream: same seed, same bytes.

Recorded with the generator as it stood before the restructure (docscan/synth.py of
commit 38c0911); any change to the drawing code, the order of random draws or the
helpers they call shows here. With ``../shared``'s seed photos (backgrounds, pages) the
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
    1: "eaf43a33d0180594dd601835697e14e5a0497dda7f0380c3a6af0d131c0a0b0d",
    2: "8500f8d3d4a7b4955bae45c4394f7929749713eef92170672019b1f5f1516d74",
    5: "25193c08ddd11dce2d3d48539c66327c22d74185dcd580e0009138c494a023ea",
    13: "6bb467115287a3ab82d5eb73d3fc7b940dfc7bad2c7e6b13b81cc9b6e9082c6b",
}
WITH_ASSETS = {  # seed 7, (96, 96), the seed photos of ../shared
    0: "e8461ee3515cf18cbcab6b5e22022eefa4e134af5f4e35bec25ff962b0e16f8f",
    1: "1aef337c0096f50d5788ac1c219e2f6961b27ec366cb134559924447e61e630a",
    3: "680bcffa7667f87d5cc29f6124d35bd07c1f260ba3869f93abb748eff0e8c7f4",
    8: "424421ab23e46937433d6b16d58680534aef34b92cb004375fa6273fc031acc1",
    21: "e1fc081bd5298bb812f952d7b705de008c63d43e3ef4a078fd3cf791bf78d5cc",
}
# seed 21, indices 0..59, (64, 64), with traces
STREAM_PROCEDURAL = "b05f13c4a2c59ca0942bf82a37d2c381e78dd3c6cd62b921375889cfc6318498"
STREAM_WITH_ASSETS = "7f0319eaab3927f29aab2446cf49e728406d92f9306292a59ea6ea1e40481867"
# make_dataset(3, 2, (32, 32), with_region=True), first batch
DATASET = "da560dec7df81a56a408517adcd8fecf67daa685ec65134f1f80c669f88bfbae"
# write_set(..., 3, seed=9, size=(64, 48)): every file's bytes
WRITE_SET = "0366ddb926b8a45c130e86e2f467a06f1e6aff71474e77c18fc641f46503c9f6"


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


def test_dataset_batch():
    x, y = next(iter(make_dataset(3, 2, (32, 32), with_region=True)))
    assert _digest(np.asarray(x), np.asarray(y)) == DATASET


def test_write_set_bytes(tmp_path):
    write_set(tmp_path / "set", 3, seed=9, size=(64, 48))
    h = hashlib.sha256()
    for f in sorted(p for p in (tmp_path / "set").rglob("*") if p.is_file()):
        h.update(str(f.relative_to(tmp_path / "set")).encode())
        h.update(f.read_bytes())
    assert h.hexdigest() == WRITE_SET
