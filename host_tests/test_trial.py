"""The trial in CI size: the bench's matrix for 2 patients x 1 day on a LocalCluster of
2 workers, through the same code path as the full run (tools/bench/trial.py ->
tools/sim/trial.py); then a rerun from the results file runs nothing and says the same."""

import argparse
import csv
import json
import os
import shutil

import pytest

from tools import ROOT
from tools.bench import trial as bench_trial
from tools.sim import trial

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node missing")

PATIENTS = "adult#001,child#001"
METRICS = {"tir", "tbr70", "tbr54", "tar180", "mean", "cv", "insulin_u"}


def _args(results):
    return argparse.Namespace(days=1, seed=1, patients=PATIENTS, scenarios="announced",
                              workers=2, scheduler="", results=str(results), speedup=False)


class _Parser:
    def error(self, message):
        raise AssertionError(message)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    results = tmp_path_factory.mktemp("trial") / "cells.jsonl"
    return results, bench_trial.bench(_args(results), _Parser())


def test_the_bench_prints_the_issues_json_shape(ran):
    _, out = ran
    assert set(out["results"]) == {"announced"}
    by_controller = out["results"]["announced"]
    assert set(by_controller) == {"pump", "loop", "oref0", "oref1"}
    for groups in by_controller.values():
        assert set(groups) == {"adult", "child", "all"}
        for metrics in groups.values():
            assert set(metrics) == METRICS
            assert 0 <= metrics["tbr54"] <= metrics["tbr70"] <= 100 - metrics["tir"]
    assert out["wall_s"] > 0 and out["cells_run"] == 8 and out["workers"] == 2
    assert out["errors"] == {"pump": 0, "loop": 0, "oref0": 0, "oref1": 0}
    assert out["decisions"]["oref0"] == 2 * 480  # a decision on every 3-minute reading
    assert out["patient_days"] == 8 and out["cost_s_per_patient_day"] > 0
    assert out["targets"]["bridge_errors"]["met"] is True
    json.dumps(out)  # plain data


def test_the_groups_are_the_means_of_the_cells(ran):
    results, out = ran
    done = trial.read_done(str(results))
    assert len(done) == 8
    cells = [r for r in done.values() if r["controller"] == "oref1"]
    tir = sum(r["metrics"]["tir"] for r in cells) / 2
    assert out["results"]["announced"]["oref1"]["all"]["tir"] == round(tir, 2)


def test_a_rerun_resumes_from_the_results_file(ran):
    results, first = ran
    again = bench_trial.bench(_args(results), _Parser())
    assert again["cells_run"] == 0 and again["results"] == first["results"]


def test_the_report_files(ran, tmp_path):
    results, _ = ran
    summary = trial.report(trial.read_done(str(results)), str(tmp_path), 1.0)
    names = {p.rsplit("/", 1)[-1] for p in summary["written"]}
    assert names == {"trial.json", "trial.csv", "table.txt", "agp_announced.png", "tir.png"}
    for png in ("agp_announced.png", "tir.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "trial.csv").open()))
    assert len(rows) == 8 and {r["controller"] for r in rows} == {"pump", "loop", "oref0",
                                                                  "oref1"}
    table = (tmp_path / "table.txt").read_text()
    assert "GMI" in table and "oref1" in table


@pytest.mark.parametrize("raw, problem", [
    ({"controllers": ["loop"]}, "scenarios"),
    ({"controllers": ["openaps"], "scenarios": ["announced"]}, "controllers"),
    ({"controllers": ["loop"], "scenarios": ["announced"], "days": 0}, "days"),
    ({"controllers": ["loop"], "scenarios": ["announced"], "patients": ["teen"]}, "patients"),
    ({"controllers": ["loop"], "scenarios": ["announced"], "seeds": [1.5]}, "seeds"),
    ({"controllers": ["loop"], "scenarios": ["announced"], "colour": "red"}, "colour"),
    ({"controllers": ["loop"], "scenarios": ["announced"],
      "settings": {"bad": {"limits": {"max_bolus_u": 500}}}}, "max_bolus_u"),
])
def test_bad_matrices_are_refused(raw, problem):
    with pytest.raises(ValueError, match=problem):
        trial.check_matrix(raw)


def test_cells_cover_the_matrix_with_settings_variants():
    matrix = trial.check_matrix({
        "controllers": ["pump", "loop"], "scenarios": ["announced", "exercise"],
        "patients": ["child"], "seeds": [1, 2],
        "settings": {"default": {}, "low": {"target_mg_dl": [["00:00", 100, 120]]}}})
    cells = trial.cells(matrix)
    assert len(cells) == 2 * 2 * 10 * 2 * 2
    assert len({trial.cell_key(c) for c in cells}) == len(cells)
    low = next(c for c in cells if c["settings"] == "low")
    assert trial.label(low) == low["controller"] + "+low"


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(ROOT, "tools", "sim",
                                                                  "matrices"))))
def test_the_shipped_matrices_load(name):
    matrix = trial.load_matrix(os.path.join(ROOT, "tools", "sim", "matrices", name))
    assert trial.cells(matrix)
