"""`docscan eval`: metrics, report, contact sheet, bad input; and the shipped model on real photos."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from detect_helpers import PAGE, save_tflite, write_photo  # noqa: E402

from docscan.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tflite(tmp_path_factory.mktemp("m") / "sobel.tflite")


@pytest.fixture()
def dataset(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    write_photo(d / "p1.png")
    other = PAGE + np.array([10, 15], np.float32)
    write_photo(d / "p2.jpg", corners=other, seed=2)
    cv2.imwrite(str(d / "blank.png"), np.full((480, 360, 3), 120, np.uint8))   # nothing to find
    write_photo(d / "unlabelled.png")
    labels = {
        "p1.png": {"width": 360, "height": 480, "corners": PAGE.tolist()},
        "p2.jpg": {"corners": other.tolist()},
        # labelled at half resolution: corners are scaled to the image on disk
        "blank.png": {"width": 180, "height": 240, "corners": [[20, 20], [160, 20], [160, 220], [20, 220]]},
    }
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    return d, tmp_path / "labels.json"


def run(*args):
    return CliRunner().invoke(main, ["eval", *map(str, args)])


def test_eval_report_and_contact_sheet(model, dataset, tmp_path):
    d, labels = dataset
    out = tmp_path / "out"
    r = run(d, labels, "--model", model, "-o", out)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    s = rep["summary"]
    per = {i["name"]: i for i in rep["images"]}
    assert per["p1.png"]["iou"] > 0.97 and per["p2.jpg"]["iou"] > 0.97
    assert per["p1.png"]["corner_error"] < 0.01
    assert per["blank.png"]["found"] is False and per["blank.png"]["iou"] == 0.0
    assert per["blank.png"]["truth"][2] == [320.0, 440.0]
    assert s["evaluated"] == 3 and s["not_found"] == ["blank.png"]
    assert s["share_iou_ge_0.9"] == pytest.approx(2 / 3)
    assert s["mean_iou"] == pytest.approx((per["p1.png"]["iou"] + per["p2.jpg"]["iou"]) / 3)
    assert s["failures_iou_lt_0.9"] == ["blank.png"]
    assert rep["unlabelled"] == ["unlabelled.png"]
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] >= 320
    assert {p.name for p in (out / "overlays").iterdir()} == {"p1.png", "p2.png", "blank.png"}
    assert "mean IoU" in r.output


def test_eval_classic_method(dataset, tmp_path):
    d, labels = dataset
    r = run(d, labels, "--method", "classic", "-o", tmp_path / "out", "--no-overlays")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["method"] == "classic" and rep["summary"]["evaluated"] == 3
    # the easy synthetic page is exactly what the classic scanner was made for
    assert {i["name"]: i for i in rep["images"]}["p1.png"]["iou"] > 0.9


def test_eval_empty_dir(model, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "labels.json").write_text(json.dumps({"a.jpg": {"corners": [[0, 0], [1, 0], [1, 1], [0, 1]]}}))
    r = run(tmp_path / "empty", tmp_path / "labels.json", "--model", model, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "empty: no images" in r.output
    assert not (tmp_path / "out").exists()


def test_eval_labels_naming_missing_images(model, dataset, tmp_path):
    d, labels = dataset
    data = json.loads(labels.read_text())
    data["ghost.jpg"] = data["p1.png"]
    labels.write_text(json.dumps(data))
    r = run(d, labels, "--model", model, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "ghost.jpg" in r.output and "not in" in r.output
    assert r.output.count("\n") == 1


@pytest.mark.parametrize("content, msg", [
    ("{not json", "not valid JSON"),
    (json.dumps({"p1.png": {"corners": [[1, 2], [3, 4]]}}), "entry 'p1.png' needs"),
    (json.dumps([]), "expected a non-empty object"),
    (json.dumps({"p1.png": {"width": "wide", "height": 480, "corners": [[1, 2], [3, 4], [5, 6], [7, 8]]}}),
     "entry 'p1.png' needs integer width and height"),
])
def test_eval_bad_labels(model, dataset, tmp_path, content, msg):
    d, labels = dataset
    labels.write_text(content)
    r = run(d, labels, "--model", model, "-o", tmp_path / "out")
    assert r.exit_code == 2 and msg in r.output and "labels.json" in r.output, r.output


def test_eval_unreadable_image_is_named_and_report_still_written(model, dataset, tmp_path):
    d, labels = dataset
    (d / "p2.jpg").write_bytes(b"\xff\xd8 truncated")
    out = tmp_path / "out"
    r = run(d, labels, "--model", model, "-o", out)
    assert r.exit_code == 2 and "p2.jpg: not a readable image" in r.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["summary"]["unreadable"] == ["p2.jpg"] and rep["summary"]["evaluated"] == 2


def test_eval_label_for_another_image_size_is_named(model, dataset, tmp_path):
    d, labels = dataset
    data = json.loads(labels.read_text())
    data["p1.png"]["width"], data["p1.png"]["height"] = 480, 360     # landscape label, portrait photo
    labels.write_text(json.dumps(data))
    out = tmp_path / "out"
    r = run(d, labels, "--model", model, "-o", out)
    assert r.exit_code == 2 and "p1.png: labelled as 480x360 but the image is 360x480" in r.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["summary"]["evaluated"] == 2


# ---------------------------------------------------------------------------------------
# The shipped model on the real development photos.

@pytest.mark.realdata
def test_shipped_model_on_real_dev_photos(shared, repo, tmp_path):
    from docscan.detect.edge_model import default_model_path
    from docscan.errors import DocscanError

    photos = shared / "data" / "real-photos-dev"
    if not (photos / "labels.json").is_file():
        pytest.skip(f"no labels at {photos / 'labels.json'}")
    try:
        model = default_model_path()
    except DocscanError as exc:
        pytest.skip(str(exc))
    r = run(photos, photos / "labels.json", "--model", model, "-o", tmp_path / "out", "--no-overlays")
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "out" / "report.json").read_text())["summary"]
    assert s["mean_iou"] >= 0.90, s
    assert s["share_iou_ge_0.9"] >= 0.8, s


def test_eval_groups_by_condition(model, dataset, tmp_path):
    d, labels = dataset
    data = json.loads(labels.read_text())
    data["p1.png"]["condition"] = "plain"
    data["p2.jpg"]["condition"] = "plain"
    data["blank.png"]["condition"] = "empty-table"
    labels.write_text(json.dumps(data))
    out = tmp_path / "out"
    r = run(d, labels, "--model", model, "-o", out, "--no-overlays")
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    groups = rep["by_condition"]
    assert list(groups) == ["empty-table", "plain"]
    per = {i["name"]: i for i in rep["images"]}
    assert per["p1.png"]["condition"] == "plain"
    assert groups["plain"]["images"] == 2
    assert groups["plain"]["mean_iou"] == pytest.approx((per["p1.png"]["iou"] + per["p2.jpg"]["iou"]) / 2)
    assert groups["plain"]["share_iou_ge_0.9"] == 1.0
    assert groups["empty-table"]["not_found"] == 1 and groups["empty-table"]["failures_iou_lt_0.9"] == ["blank.png"]
    assert json.loads((out / "conditions.json").read_text()) == groups
    csv_lines = (out / "conditions.csv").read_text().splitlines()
    assert csv_lines[0].startswith("condition,images,evaluated,mean_iou") and len(csv_lines) == 3
    assert csv_lines[1].startswith("empty-table,1,1,0.0000")
    assert (out / "images.csv").read_text().count("\n") == 4
    assert "by condition" in r.output and "empty-table" in r.output
    # the blank photo is wrong and the two pages right: the report says how well confidence tells them apart
    c = rep["summary"]["confidence"]
    assert c["n_right"] == 2 and c["n_wrong"] == 1 and c["auroc"] is not None
    assert "AUROC" in r.output


def test_eval_without_conditions_writes_no_condition_table(model, dataset, tmp_path):
    d, labels = dataset
    out = tmp_path / "out"
    r = run(d, labels, "--model", model, "-o", out, "--no-overlays")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "report.json").read_text())["by_condition"] == {}
    assert not (out / "conditions.csv").exists() and "by condition" not in r.output


def test_eval_conditions_with_a_mismatched_label(model, dataset, tmp_path):
    d, labels = dataset
    data = json.loads(labels.read_text())
    for name in data:
        data[name]["condition"] = "c"
    data["p1.png"]["width"], data["p1.png"]["height"] = 480, 360     # another picture's label
    labels.write_text(json.dumps(data))
    out = tmp_path / "out"
    r = run(d, labels, "--model", model, "-o", out, "--no-overlays")
    assert r.exit_code == 2 and "p1.png: labelled as 480x360" in r.output
    assert r.output.strip().splitlines()[-1].startswith("error:")
    groups = json.loads((out / "conditions.json").read_text())
    assert groups["c"]["images"] == 3 and groups["c"]["evaluated"] == 2


def test_eval_condition_must_be_a_name(model, dataset, tmp_path):
    d, labels = dataset
    data = json.loads(labels.read_text())
    data["p1.png"]["condition"] = ["low", "contrast"]
    labels.write_text(json.dumps(data))
    r = run(d, labels, "--model", model, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "entry 'p1.png' has a \"condition\"" in r.output
    assert r.output.count("\n") == 1
