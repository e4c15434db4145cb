"""docscan.detect.evaluate reports each image through docscan.progress, unreadable ones too."""

from __future__ import annotations

import json

from detect_helpers import PAGE, write_photo

from docscan.detect.classic import ClassicDetector
from docscan.detect.evaluate import evaluate, match_labels
from docscan.progress import collect


def test_evaluate_reports_every_image(tmp_path):
    write_photo(tmp_path / "a.png")
    (tmp_path / "b.jpg").write_text("not a photo")
    labels = {name: {"corners": PAGE.tolist()} for name in ("a.png", "b.jpg")}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    items, unlabelled = match_labels(tmp_path, tmp_path / "labels.json")
    seen = []
    results, thumbs = evaluate(ClassicDetector(), items, progress=collect(seen))
    assert unlabelled == [] and len(results) == 2 and len(thumbs) == 1
    assert seen == [("a.png", 1, 2), ("b.jpg", 2, 2)]
    assert results[1].error and "not a readable image" in results[1].error
