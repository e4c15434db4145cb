"""The whole detect pipeline inside the emulated ARM devices: per-stage instruction counts
(``docscan.bench.pipeline_stages``), for real under qemu, and the CLI's bad-input paths."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from docscan.bench import pipeline_stages as ps
from docscan.cli import main as cli
from docscan.paths import shared_dir

PHOTO = "data/real-photos-dev2/daniiiigm__Hoja_01.jpg"
ALL_STAGES = {"decode", "resize+contrast", "model", "quad finder", "corner refinement", "warp"}


def _need(isa_name: str):
    from docscan.bench.rootfs import get_isa
    isa = get_isa(isa_name)
    for tool in (isa.qemu.removesuffix("-static"), "gcc", "pkg-config", "apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (make system-deps)")


@pytest.fixture(scope="module")
def small_photo(tmp_path_factory):
    """A real photo at 480x640: a camera file small enough for a quick emulated run, large
    enough (3x the model input) that the corner refinement runs."""
    src = shared_dir() / PHOTO
    if not src.is_file():
        pytest.skip(f"{src}: shared data not present")
    img = cv2.imread(str(src))
    path = tmp_path_factory.mktemp("pipeline") / "page.jpg"
    cv2.imwrite(str(path), cv2.resize(img, (480, 640), interpolation=cv2.INTER_AREA))
    return path


@pytest.mark.emu
@pytest.mark.parametrize("isa", ["aarch64", "armv7"])
def test_pipeline_stages_counted_deterministically_and_model_matches_count_emulated(isa, small_photo, tmp_path):
    _need(isa)
    source = ps.snapshot_source(tmp_path / "src")      # both runs see the same docscan code
    first = ps.count_pipeline(small_photo, isa, frames=1, compare_model=True, source=source)
    assert first.device == f"emu:{isa}" and first.label.startswith("EMULATED")
    assert ALL_STAGES <= set(first.stages), first.stages
    assert all(first.per_frame(s) > 0 for s in ALL_STAGES)
    assert first.missing_probes == []           # every probed function still exists in docscan
    assert first.corners is not None and len(first.corners) == 4
    assert first.frame_shape == [640, 480, 3]
    # The model stage is the bare invoke (count_emulated's number) plus docscan's int8 lookup
    # tables around it: measured +1.0 % (aarch64) / +0.7 % (armv7).
    assert first.model_count and abs(first.per_frame("model") / first.model_count - 1) < 0.05
    # A second guest process, same code and input: every probed stage's count repeats to the
    # instruction (segments between markers carry no start-up; qemu runs with address
    # randomisation off); "other", the glue between probes, to within a few dozen.
    again = ps.count_pipeline(small_photo, isa, frames=1, compare_model=False, source=source)
    assert {s: again.stages[s] for s in ALL_STAGES} == {s: first.stages[s] for s in ALL_STAGES}
    assert again.per_frame("other") == pytest.approx(first.per_frame("other"), rel=1e-3)
    assert again.corners == first.corners
    # The quad finder's C path, built by Debian's cross GCC where installed (make
    # system-deps), gives the numpy path's corners on ARM too, in fewer instructions.
    from docscan.bench.rootfs import get_isa
    path = [c for c in first.compat if c.startswith("quad finder arithmetic:")]
    if shutil.which(f"{get_isa(isa).triplet}-gcc") is None:
        assert path == ["quad finder arithmetic: numpy (DOCSCAN_NATIVE=0)"]
        return
    assert path and path[0].startswith(f"quad finder arithmetic: native (quad_native-{get_isa(isa).machine}-"), path
    plain = ps.count_pipeline(small_photo, isa, frames=1, compare_model=False, source=source, native=False)
    assert [c for c in plain.compat if c.startswith("quad finder")] == ["quad finder arithmetic: numpy (DOCSCAN_NATIVE=0)"]
    np.testing.assert_allclose(plain.corners, first.corners, atol=2e-3)
    assert first.per_frame("quad finder") < 0.8 * plain.per_frame("quad finder")


def test_approx_poly_n_polyfill_matches_opencv_within_a_pixel():
    from docscan.bench.pipeline_guest import approx_poly_n
    if not hasattr(cv2, "approxPolyN"):
        pytest.skip("this OpenCV has no approxPolyN to compare with")
    rng = np.random.RandomState(0)
    differ = 0
    for _ in range(100):
        img = np.zeros((160, 160), np.uint8)
        cv2.fillConvexPoly(img, cv2.convexHull((rng.rand(4, 2) * 120 + 20).astype(np.int32)), 255)
        mask = (cv2.GaussianBlur(img, (9, 9), 3) > 128).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:        # three nearly collinear corners: no page
            continue
        hull = cv2.convexHull(max(contours, key=cv2.contourArea))
        want, got = cv2.approxPolyN(hull, 4, ensure_convex=True), approx_poly_n(hull, 4)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
        differ += bool((got != want).any())
    assert differ <= 15       # float rounding of the new vertices; most are identical


def test_bench_pipeline_bad_input_is_one_line(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["bench", "--pipeline", str(tmp_path / "none.jpg"), "-d", "emu:aarch64",
                              "-o", str(tmp_path)])
    assert res.exit_code != 0 and res.output.strip().splitlines() == [f"error: {tmp_path / 'none.jpg'}: no such file"]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    res = runner.invoke(cli, ["bench", "--pipeline", str(bad), "-d", "emu:armv7", "-o", str(tmp_path)])
    assert res.exit_code != 0 and "not a readable image" in res.output
    photo = shared_dir() / PHOTO
    if photo.is_file():
        res = runner.invoke(cli, ["bench", "--pipeline", str(photo), "-d", "host", "-o", str(tmp_path)])
        assert res.exit_code != 0 and "need an emulated device" in res.output
    assert not (tmp_path / "docscan-pipeline.json").exists()


@pytest.mark.parametrize("pipeline", ["camera", "preview"])
def test_every_probe_finds_its_function(pipeline):
    # A refactor that moves a stage's function (the preview's quad finder moved into
    # Detector.locate) must move its probe too, or that stage's count falls into "other".
    import subprocess
    import sys
    code = ("import os; from docscan.bench.pipeline_guest import Marks, install_probes; "
            f"print(install_probes(Marks(os.open(os.devnull, os.O_WRONLY)), {pipeline!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
