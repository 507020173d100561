"""What the benchmark scripts run, decided before any notebook executes."""
import importlib.util
import sys

import pytest

from nbhelpers.paths import project_root


@pytest.fixture(scope="module")
def joint():
    folder = project_root() / "benchmarks"
    sys.path.insert(0, str(folder))   # the scripts import their shared module `common`
    try:
        spec = importlib.util.spec_from_file_location("joint_benchmark", folder / "joint.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(folder))


def test_the_joint_benchmark_runs_the_defaults_each_variant_or_the_retrieval_model_alone(joint):
    assert joint.planned(False, []) == [("joint-v1", {"joint": True})]
    assert joint.planned(True, []) == [("retrieval", {})]
    assert joint.planned(True, [joint.parse_variant("pairs_loss=angle, pairs_share=2")]) == [
        ("retrieval", {}), ("joint-v1", {"joint": True, "pairs_loss": "angle", "pairs_share": 2})]


def test_the_joint_benchmark_refuses_a_fourth_variant_or_a_variant_that_sets_joint(joint):
    with pytest.raises(SystemExit, match="given 4 times: at most three"):
        joint.planned(False, [{}] * 4)
    with pytest.raises(SystemExit, match="joint is what this benchmark sets"):
        joint.parse_variant("joint=false")
    with pytest.raises(SystemExit, match="expected name=value pairs"):
        joint.parse_variant("pairs_loss")
