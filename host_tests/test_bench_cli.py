"""python -m tools.bench finds every benchmark module and refuses bad options."""

import pytest

from tools.bench import __main__ as bench_main


def test_every_benchmark_module_is_found():
    found = bench_main.benchmarks()
    assert {"delivery", "calculator", "powercut"} <= set(found)
    # Scripts that run inside the MicroPython VM are not benchmarks and are not imported.
    assert not any(name.endswith("_vm") for name in found)


@pytest.mark.parametrize("argv, problem", [
    (["delivery", "--days", "0"], "--days must be at least 1"),
    (["powercut", "--limit", "0"], "--limit must be at least 1"),
    (["nonsense"], "invalid choice"),
])
def test_bad_options_are_refused(argv, problem, capsys):
    with pytest.raises(SystemExit) as info:
        bench_main.main(argv)
    assert info.value.code == 2
    assert problem in capsys.readouterr().err
