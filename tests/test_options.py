"""Options built from a config's mappings and lists, nested options checked by their path."""

import pytest

from snacs.algorithm.pruner import SnacsOptions
from snacs.errors import ConfigError
from snacs.estimators.edge import EdgeOptions
from snacs.options import build_options, check_options, known_fields
from snacs.studies.estimator_accuracy import EstimatorSettings


def test_nested_mappings_and_lists_become_the_declared_types():
    options = build_options(
        SnacsOptions, {"groups": 8, "estimator": {"bandwidth_range": [1, 1.2], "seeds": 2}}
    )
    assert options.estimator == EdgeOptions(bandwidth_range=(1, 1.2), seeds=2)
    assert hash(options.estimator) == hash(EdgeOptions(bandwidth_range=(1, 1.2), seeds=2))
    settings = build_options(EstimatorSettings, {"layer_shapes": [[2, 56], [4, 8]]})
    assert settings.layer_shapes == ((2, 56), (4, 8))


def test_an_unknown_nested_key_is_named_by_its_full_path():
    with pytest.raises(ConfigError) as error:
        check_options(SnacsOptions, {"estimator": {"ensemble": 4}}, "methods.snacs", "pruner")
    message = str(error.value)
    assert "methods.snacs.estimator.ensemble" in message and "ensemble_size" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        ({"method": "forward"}, "methods.snacs.estimator.method"),
        ({"cap": "high"}, "methods.snacs.estimator.cap"),
        (3, "methods.snacs.estimator"),
        ({"cap": 0.0}, "EdgeOptions.cap"),  # the type's own check, run when constructing
    ],
)
def test_nested_values_are_checked_before_any_job(estimator, expected):
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        check_options(SnacsOptions, {"estimator": estimator}, "methods.snacs", "pruner")


def test_known_fields_leaves_other_consumers_keys_alone():
    section = {"enabled": True, "cases": 3, "estimator": {"seeds": 2}}
    assert known_fields(EstimatorSettings, section) == {"cases": 3, "estimator": {"seeds": 2}}
