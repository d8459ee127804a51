"""tools.bench memory in a tiny form: the live heap read between chunks is exact (a known
allocation shows up as its size over the baseline), a heap capped below what the story
holds is seen to grow, and the bench's JSON has the issue's shape for one board."""

import pytest

from tools.bench import memory
from tools.devicevm import compile_firmware, run_story
from tools.mpvm import missing_requirements

pytestmark = pytest.mark.skipif(missing_requirements() is not None,
                                reason=str(missing_requirements()))

HOLD = 20_000
HELD = [{"heap": True}, {"hold_bytes": HOLD}, {"heap": True}, {"hold_bytes": 0},
        {"heap": True}]
KEYS = {"boot_heap_bytes", "peak_heap_bytes", "largest_free_bytes", "bytecode_bytes",
        "capped_heap_bytes", "capped_day_ok", "budget_bytes", "budget_source", "psram"}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return compile_firmware(tmp_path_factory.mktemp("mpy"))


def marks(transcript):
    return [seen["alloc"] for seen in transcript["steps"] if "alloc" in seen]


def test_a_known_allocation_shows_up_as_its_size_over_the_baseline(package):
    base, held, dropped = marks(run_story(HELD, mpy=package, trace_ms=100))
    # bytearray(n): one 16-byte object block and n bytes of data; the step's own entry
    # in the runner adds a few blocks at most
    assert HOLD + 16 <= held - base <= HOLD + 16 + 128
    assert abs(dropped - base) <= 128


def test_without_chunks_the_vm_keeps_its_garbage():
    """The caveat the trace exists for: one long call keeps every byte it allocated."""
    steps = [{"heap": True}, {"boot": "power", "ms": 200}, {"heap": True}]
    traced = marks(run_story(steps, trace_ms=100))
    plain = marks(run_story(steps))
    assert plain[1] - plain[0] > 2 * (traced[1] - traced[0])


def test_importing_the_boot_modules_one_chunk_each_leaves_the_same_live_heap(package):
    """A traced boot lists what it imported, the modules forgotten after boot too; a run
    given those lists imports them a chunk each first: the same firmware is live after
    boot and after a power cut's reboot, and no chunk holds all the import garbage."""
    steps = [{"heap": True}, {"boot": "power", "ms": 500}, {"heap": True},
             {"power_cut": True}, {"boot": "power", "ms": 500}, {"heap": True}]
    whole = run_story(steps, mpy=package, trace_ms=100)
    boots = whole["boot_imports"]
    assert len(boots) == 2 and "basalt.app.wiring" in boots[0]  # a boot-only module
    assert "basalt.app.wiring" not in whole["modules"]  # gone by the chunk's end
    split = run_story(steps, mpy=package, trace_ms=100, preimport=boots)
    assert split["boot_imports"] == []  # only a run without the lists records them
    _, booted, rebooted = marks(split)
    # the boot as without the chunks; the reboot holds the same (the first boot's firmware
    # is not kept reachable). The run without them is no reference after its reboot: its
    # one boot chunk can leave stale slots behind (20 KB seen with -O3 bytecode).
    assert abs(booted - marks(whole)[1]) <= 2048
    assert abs(rebooted - booted) <= 2048
    assert split["heap"]["chunks"] >= whole["heap"]["chunks"] + sum(map(len, boots))
    assert split["heap"]["before_collect_max"] < whole["heap"]["before_collect_max"]


@pytest.fixture(scope="module")
def room(package):
    """The largest free block the capped heap starts with: the VM's setup leaves the
    budget in pieces (about 18 KB the largest), and one bytearray needs one piece."""
    transcript = memory.day_run([{"heap": True}], "pico_w", package, None, BUDGET, 100)
    return memory.largest_free_block(transcript["meminfo"])


BUDGET = 100_000


@pytest.mark.parametrize("grows", [True, False])
def test_a_heap_capped_below_what_the_story_holds_grows(package, room, grows):
    budget = BUDGET
    hold = budget * 6 // 5 if grows else room // 2  # more than the budget / in one piece
    steps = [dict(step, hold_bytes=hold) if "hold_bytes" in step and step["hold_bytes"]
             else step for step in HELD]
    transcript = memory.day_run(steps, "pico_w", package, None, budget, 100)
    trace = transcript["heap"]
    assert budget - 512 <= trace["total_start"] - trace["baseline"] <= budget
    assert (trace["total_max"] > trace["total_start"]) == grows


def test_the_bench_reports_every_figure_per_board_and_frozen():
    steps = [{"heap": True}, {"boot": "power", "ms": 200}, {"heap": True},
             {"wait_ms": 300}]
    result = memory.measure(["pico_w"], steps, chunk_ms=100)
    assert set(result) == {"boards", "frozen"}
    assert isinstance(result["frozen"].pop("method"), str)
    for part in ("boards", "frozen"):
        figs = result[part]["pico_w"]
        assert set(figs) == KEYS
        assert figs["capped_heap_bytes"] <= figs["budget_bytes"]
        assert 0 < figs["boot_heap_bytes"] <= figs["peak_heap_bytes"]
        assert figs["bytecode_bytes"] > 10_000 and figs["psram"] is False
        assert 0 < figs["largest_free_bytes"]
    # bytecode read in place from the ROMFS image leaves the heap
    assert result["frozen"]["pico_w"]["boot_heap_bytes"] < \
        result["boards"]["pico_w"]["boot_heap_bytes"] - 50_000


def test_every_board_file_with_a_micropython_port_is_measured():
    assert memory.micropython_boards() == ["esp32_devkitc", "pico_w"]


def test_the_largest_free_block_is_read_from_the_first_heap_area():
    meminfo = ["GC: total: 1, used: 1, free: 1", "GC memory layout; from 0:",
               "00000000: hh==....h.", "       (2 lines all free)",
               "00000c00: ..h", "GC memory layout; from 9:",
               "       (900 lines all free)"]
    # the line's last free block, two free lines and the next line's two: 131 blocks
    assert memory.largest_free_block(meminfo) == (1 + 2 * 64 + 2) * 16
