"""docscan.detect.quad_params.parse_setting: KEY=VALUE to a QuadParams change, or one clear error."""

from __future__ import annotations

import dataclasses

import pytest

from docscan.detect.quad_params import DEFAULT_PARAMS, parse_setting
from docscan.errors import DocscanError


def test_a_setting_takes_its_fields_type():
    assert parse_setting("ratio_power=8") == {"ratio_power": 8.0}
    assert parse_setting("max_lines=18") == {"max_lines": 18}
    assert isinstance(parse_setting("max_lines=18")["max_lines"], int)
    changed = dataclasses.replace(DEFAULT_PARAMS, **parse_setting("support_hi=0.9"))
    assert changed.support_hi == 0.9 and changed.ratio_power == DEFAULT_PARAMS.ratio_power


@pytest.mark.parametrize("text, says", [("ratio_power", "expected KEY=VALUE"), ("no_such=1", "expected KEY=VALUE"),
                                        ("max_lines=1.5", "takes a int"), ("smooth=soft", "takes a float")])
def test_bad_settings_name_the_problem(text, says):
    with pytest.raises(DocscanError, match=says) as err:
        parse_setting(text)
    assert text in str(err.value) and "\n" not in str(err.value)
