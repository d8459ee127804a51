"""The CGM benchmark's fuzz harness counts inputs and really detects crashes."""

import pytest

from basalt.core import cgms
from tools.bench import __main__ as bench_main
from tools.bench import cgm


def test_fuzz_counts_inputs_and_finds_no_crash():
    result = cgm.fuzz(30)
    assert result["inputs"] == 60 and result["crashes"] == 0
    assert result["records"] + result["errors"] == 60


def test_fuzz_reports_a_decoder_that_crashes(monkeypatch):
    def broken(data, crc=False):
        if len(data) > 3:
            raise IndexError("off the end")
        raise cgms.CgmFormatError("measurement", data, "records")

    monkeypatch.setattr(cgms, "decode_measurements", broken)
    result = cgm.fuzz(30)
    assert result["crashes"] > 0 and "IndexError" in result["first_crash"]


def test_bench_set_decodes():
    assert sum(len(cgms.decode_measurements(d, c)) for d, c in cgm.bench_set()) == 8


def test_the_benchmark_is_registered_and_refuses_no_fuzzing(capsys):
    assert bench_main.benchmarks()["cgm"] is cgm
    with pytest.raises(SystemExit):
        bench_main.main(["cgm", "--fuzz", "0"])
    assert "--fuzz must be at least 1" in capsys.readouterr().err
