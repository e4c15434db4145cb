"""Demo models for the regression-gate tests, converted once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory):
    from docscan.regress.demo import build_demo_models

    return build_demo_models(tmp_path_factory.mktemp("regress-models"), 64)
