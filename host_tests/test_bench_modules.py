"""tools.bench modules: per-module heap costs of the compiled firmware in the VM, and
what a booted pump has loaded."""

import json

import pytest

from tools.bench import __main__ as bench_main
from tools.bench import modules as bench
from tools.mpvm import missing_requirements

if missing_requirements():
    pytest.fail(missing_requirements(), pytrace=False)


def write_package(root, files):
    for name, text in files.items():
        path = root / "pkgx" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_module_costs_what_it_keeps_not_the_garbage_it_made(tmp_path):
    write_package(tmp_path / "src", {
        "__init__.py": "from pkgx.sub import keeps\n",  # a package importing its module
        "sub/__init__.py": "",
        "sub/keeps.py": "TABLE = list(range(1000))\n",
        "litter.py": ("from pkgx.sub import keeps\n"
                      "_junk = [str(i) for i in range(2000)]\n_junk = None\n"),
    })
    _, modules, _, _ = bench.import_costs(tmp_path / "mpy", root=tmp_path / "src",
                                          package="pkgx")
    assert list(modules).index("pkgx.sub.keeps") < list(modules).index("pkgx.litter")
    assert all(m["mpy"] and m["also_imported"] == 0 for m in modules.values())
    # 1000 list slots of 4 bytes are kept; the 2000 strings (~40 KB) are collected.
    assert 4_000 <= modules["pkgx.sub.keeps"]["heap_bytes"] < 5_500
    assert modules["pkgx.litter"]["heap_bytes"] < 1_500
    assert modules["pkgx"]["heap_bytes"] < 1_500  # its module was counted on its own


def test_from_romfs_the_bytecode_and_strings_stay_in_the_image(tmp_path):
    write_package(tmp_path / "src", {
        "__init__.py": "",
        "text.py": "TEXT = %r\n\n\ndef f():\n    return TEXT\n" % ("x" * 4000),
    })
    costs = {}
    for romfs in (False, True):
        _, modules, _, _ = bench.import_costs(tmp_path / ("mpy%d" % romfs),
                                              root=tmp_path / "src", package="pkgx",
                                              romfs=romfs)
        assert modules["pkgx.text"]["mpy"]
        costs[romfs] = modules["pkgx.text"]["heap_bytes"]
    assert costs[False] > 4_000 > 1_000 > costs[True]


def test_dependencies_come_first_and_function_bodies_do_not_count(tmp_path):
    write_package(tmp_path, {
        "__init__.py": "",
        "a.py": "import pkgx.b\n\ndef later():\n    from pkgx import c\n",
        "b.py": "try:\n    from pkgx.c import X\nexcept ImportError:\n    pass\n",
        "c.py": "X = 1\n",
    })
    files = bench.module_files(tmp_path, "pkgx")
    assert bench.dependencies(files["pkgx.a"], files) == {"pkgx.b"}
    assert bench.import_order(["pkgx.a"], files) == ["pkgx.c", "pkgx.b", "pkgx.a"]


def test_the_booted_pump_and_its_lazy_modules(capsys):
    assert bench_main.main(["modules", "--json", "--census", "--progress", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["all_loaded_from_mpy"] and result["boot_ui"] and result["boot_cgm"]
    booted = set(result["boot_modules"])
    assert {"basalt.app.device", "basalt.core.delivery", "basalt.ble.cgm_client"} <= booted
    # Loaded when their feature is used, or dropped after boot (basalt.app.device).
    assert {"basalt.core.loop_check", "basalt.drivers.stepper_esp32", "basalt.core.calculator",
            "basalt.core.settings", "basalt.core.strict_json", "basalt.core.board_file",
            "basalt.storage.recovery", "basalt.core.restore",
            "basalt.core.journal_read", "basalt.app.usb_requests",
            "basalt.storage.keeper_commands", "basalt.app.ui_rare",
            "basalt.ble.cgm_pairing", "basalt.storage.profile_edits",
            "basalt.app.buttons"} <= set(result["lazy_modules"])
    # The running app holds its modules and its own objects.
    assert result["boot_heap_bytes"] > result["boot_modules_heap_bytes"] > 100_000
    # Its big live objects, each counted once: the CGM's reading store is preallocated;
    # the command table keeps only the few commands last looked up (basalt.core.commands).
    objects = result["objects"]
    assert objects["app.cgm_watch"] > 2_000
    assert objects.get("basalt.core.commands.COMMANDS", 0) < 1_000
    assert sum(objects.values()) < result["boot_heap_bytes"] - result["boot_modules_heap_bytes"]
    # A settings save after boot imports the dropped checks again (or it would fail in
    # the VM), and they are dropped again once the save is recorded.
    checks = sum(result["modules"][name]["heap_bytes"]
                 for name in ("basalt.core.settings", "basalt.core.strict_json"))
    assert checks > 10_000
    assert result["after_settings_save_heap_bytes"] - result["boot_heap_bytes"] < checks / 4
    # The census splits the same boot by kind of object: it adds up to the boot's heap.
    census = result["census"]
    kinds = census["kinds"]
    assert abs(sum(k["bytes"] for k in kinds.values()) - census["boot_heap_bytes"]) <= 256
    assert abs(census["boot_heap_bytes"] - result["boot_heap_bytes"]) <= 2_048
    assert kinds["functions"]["objects"] > 500 and kinds["modules"]["objects"] > 50
    assert census["names"]["names"] > 1_000 and census["names"]["pool_bytes"] > 10_000
    assert census["largest_other_bytes"] == sorted(census["largest_other_bytes"], reverse=True)


TABLE = """GC memory layout; from 4f5d0:
00000000: hBB=T.S==h..
       (2 lines all free)
00000c00: D=..h===
"""


def test_a_block_table_read_by_kind_of_object():
    sizes = bench.heap_objects(TABLE)
    assert sizes == {"h": [16, 16, 64], "B": [16, 32], "T": [16], "S": [48], "D": [32]}


def test_the_census_counts_what_came_between_its_two_tables():
    names = "qstr pool: n_pool=%d, n_qstr=%d, n_str_data_bytes=%d, n_total_bytes=%d\n"
    text = ("CENSUS-BEFORE\n00000000: hB.\n" + names % (2, 10, 50, 150)
            + "CENSUS-AFTER\n00000000: hBB=h===S\n" + names % (3, 30, 250, 900))
    found = bench.census(text)
    assert found["kinds"]["functions"] == {"bytes": 32, "objects": 1}
    assert found["kinds"]["strings"] == {"bytes": 16, "objects": 1}
    assert found["kinds"]["other"] == {"bytes": 64, "objects": 1}
    assert found["largest_other_bytes"] == [64]
    assert found["names"] == {"names": 20, "pools": 1, "pool_bytes": 550, "name_chars": 200}
