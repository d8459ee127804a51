"""tools.web (make web) without a browser: what the page's folder holds, the settings
it gives the pump for each patient, the server's types, and a fake the page relies on."""

import json
import threading
import urllib.request

import pytest

from basalt.core.settings import load_settings
from tools.devicevm import run_with_fakes
from tools.vpatient.patient import names
from tools.web import MANIFEST, address, build, patient_settings, server, settings_file
from tools.web.__main__ import main


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("web") / "web"
    build(out)
    return out


def test_the_folder_holds_every_file_it_lists_and_the_pico_ws_firmware(built):
    listed = json.loads((built / "py" / "files.json").read_text())
    on_disk = sorted(p.relative_to(built / "py").as_posix()
                     for p in (built / "py").rglob("*") if p.is_file() and p.name != "files.json")
    assert listed == on_disk
    firmware = {"lib/" + dest for dest, _ in json.loads(MANIFEST.read_text())["urls"]}
    assert firmware <= set(listed)
    for needed in ("lib/webvm.py", "lib/vpatient/patient.py", "lib/devicevm/story_vm.py",
                   "lib/devicevm/fake_ble.py", "lib/devicevm/files/board.py",
                   "lib/devicevm/files/main.py", "lib/devicevm/files/settings.json"):
        assert needed in listed, needed
    for page in ("index.html", "app.js", "sw.js", "vendor/micropython.mjs",
                 "vendor/micropython.wasm"):
        assert (built / page).is_file(), page


@pytest.mark.parametrize("name", names())
def test_each_patients_settings_are_accepted_by_the_firmware(built, name):
    text = (built / "py" / settings_file(name)).read_text()
    assert json.loads(text) == patient_settings(name)
    load_settings(json.loads(text))  # raises ConfigError naming the key if refused
    assert json.loads(text)["cgm"]["enabled"] is True  # the page's sensor is paired
    assert "#" not in settings_file(name)


def test_the_server_gives_wasm_and_modules_their_types(built):
    httpd = server(built, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        for path, kind in (("vendor/micropython.wasm", "application/wasm"),
                           ("app.js", "text/javascript"), ("py/files.json", "application/json")):
            with urllib.request.urlopen(address(httpd) + path) as reply:
                assert reply.headers["Content-Type"].startswith(kind), path
                assert reply.headers["Cache-Control"] == "no-cache"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_cli_builds_without_serving(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "w"), "--no-serve"]) == 0
    assert "web: built" in capsys.readouterr().out


def test_hx711_fake_is_ready_after_minutes_without_a_read():
    """An idle pump reads its force sensor for the first time in minutes (the page's
    boot notes wait for a key): the ticks clock wraps every 17.9 min, and the fake must
    not read that as 'conversion not ready' (it once did, and the pump raised SENSOR
    FAULT on its first delivery)."""
    out = run_with_fakes("""
import vboard, vtime, time
cell = vboard.hx711
cell.wiring = (-1, -1)
cell._ready_at = time.ticks_add(time.ticks_us(), cell.PERIOD_US)
print("fresh", cell.dout())
for minutes in (9, 12, 30):
    vtime.advance_to(vtime.now_us() + minutes * 60_000_000)
    print(minutes, cell.dout())
""")
    assert out.split() == ["fresh", "1", "9", "0", "12", "0", "30", "0"]
