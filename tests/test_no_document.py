"""Photos with no document: the shipped model says "no document found" where the maps give
its best outline almost no chance of being a page; benchmarks/no_document.py on a few."""

from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from docscan.detect.detector import Detector
from docscan.detect.image_io import load_image
from docscan.detect.quad import DEFAULT_PARAMS, NO_DOCUMENT

# from the seed author's background photos: a close-up of wood grain, no page in it
WOOD = "0240020107.jpg"


@pytest.fixture(scope="module")
def bench(repo):
    spec = importlib.util.spec_from_file_location("no_document_bench", repo / "benchmarks" / "no_document.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_outline_with_no_chance_of_being_a_page_is_no_document(shared, repo, bench):
    image = load_image(bench.backgrounds_dir() / WOOD)
    det = Detector(str(repo / "models" / "hed_default.int8.tflite"))
    got = det.detect(image, warp=False)
    assert not got.found and got.reason == NO_DOCUMENT and got.scan is None
    assert 0.0 <= got.confidence < DEFAULT_PARAMS.min_chance
    # without the floor, the same maps give a quad on the wood grain, with that chance
    no_floor = Detector(model=det.model, params=dataclasses.replace(DEFAULT_PARAMS, min_chance=0.0))
    quad = no_floor.detect(image, warp=False)
    assert quad.found and quad.confidence == pytest.approx(got.confidence)
    # and a shot still seen two and four ways says the same, with no agreement to check
    two = Detector(model=det.model, second_look=True).detect(image, warp=False)
    assert not two.found and two.second_look.agreement == 0.0
    four = Detector(model=det.model, second_look=True, close_look=True).detect(image, warp=False)
    assert not four.found and four.second_look.agreement == 0.0


def test_no_document_benchmark_on_a_few_photos(shared, bench, tmp_path):
    report = bench.run(["hed+quad", "classic"], limit=4)
    s = report["summary"]
    assert set(s) == {"hed+quad", "classic"} and s["hed+quad"]["photos"] == 4
    for method, rows in report["photos"].items():
        found = [r for r in rows.values() if r["found"]]
        assert s[method]["false_finds"] == len(found)
        assert s[method]["confident_false_finds"] == sum(r["confidence"] >= bench.CONFIDENT for r in found)
    assert not report["photos"]["hed+quad"][WOOD]["found"]
    out = tmp_path / "n.json"
    bench.plot(report, out.with_suffix(".png"))
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for bad in (["--methods", "hed+quad,nonsense"], ["--methods", ","]):
        with pytest.raises(SystemExit):
            bench.main(bad + ["-o", str(out)])
    assert not out.exists()
