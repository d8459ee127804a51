"""Basalt in a browser: the static page (web/) with the real firmware and the virtual
patient, copied into one folder and served on localhost (`make web`).

    python -m tools.web [--out build/web] [--port 8023] [--no-serve]

The folder holds web/'s page, the npm package's MicroPython (micropython.mjs and its
.wasm, copied as they are) and, under py/, the files the page writes into the VM's
filesystem: the firmware as the Pico W's manifest lists it (what `make deploy` puts on
a board), the device VM's fakes staged as tools.devicevm stages them for a story, the
browser board file, the page's settings and the virtual patient. py/files.json lists
them. Nothing is compiled or bundled: the page reads the same files the tests run.

Settings: web/settings.json as it is (the page's `settings=example`), and for each of
the 30 patients the same file with the patient's therapy (basal, carb ratio,
sensitivity, targets, insulin, limits) as the cohort programs it
(tools.sim.controllers.settings_json), the page's default.
"""

import functools
import http.server
import json
import shutil
import tempfile
from pathlib import Path

from tools.devicevm import _stage

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
PACKAGE = REPO / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
PACKAGE_FILES = ("micropython.mjs", "micropython.wasm")
MANIFEST = REPO / "firmware" / "pico_w.package.json"
VPATIENT = REPO / "tools" / "vpatient"
PAGE_FILES = ("index.html", "app.js", "plot.js", "style.css", "sw.js")
DEFAULT_OUT = REPO / "build" / "web"
DEFAULT_PORT = 8023
SETTINGS_DIR = "lib/devicevm/settings/"
THERAPY_KEYS = ("basal", "carb_ratio_g_per_u", "sensitivity_mg_dl_per_u", "target_mg_dl",
                "insulin", "limits")
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".json": "application/json", ".py": "text/plain; charset=utf-8"}


def missing():
    """What the page cannot be built without (a message), or None."""
    if not (PACKAGE / PACKAGE_FILES[0]).is_file():
        return "npm package @micropython/micropython-webassembly-pyscript is missing: make setup"
    if not (VPATIENT / "patient.py").is_file():
        return "tools/vpatient (the virtual patient) is missing"
    return None


def _copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def vm_files():
    """[(path in the VM, host file)] of everything the page writes into the VM."""
    files = []
    for dest, src in json.loads(MANIFEST.read_text(encoding="utf-8"))["urls"]:
        files.append(("lib/" + dest, MANIFEST.parent / src))
    files.append(("lib/boards/pico_w.py", REPO / "boards" / "pico_w.py"))
    files += [("lib/vpatient/" + p.name, p) for p in sorted(VPATIENT.glob("*.py"))]
    files.append(("lib/webvm.py", WEB / "py" / "webvm.py"))
    return files


def settings_file(name):
    """The VM path of a patient's settings file ('#' is not for addresses)."""
    return SETTINGS_DIR + name.replace("#", "_") + ".json"


def patient_settings(name):
    """web/settings.json with the patient's therapy, as the cohort programs the pump."""
    from basalt.core.settings import parse_settings_text
    from tools.sim.controllers import settings_json
    from tools.sim.patients import settings_for

    page = parse_settings_text((WEB / "settings.json").read_text(encoding="utf-8"))
    therapy = settings_json(settings_for(name))
    for key in THERAPY_KEYS:
        page[key] = therapy[key]
    (rates,) = therapy["basal"]["profiles"].values()
    page["basal"] = {"active": "Patient", "profiles": {"Patient": rates}}
    return page


def build(out=DEFAULT_OUT):
    """Copy the page and its files into out (emptied first); return the number of VM files."""
    problem = missing()
    if problem:
        raise RuntimeError(problem)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    for name in PAGE_FILES:
        _copy(WEB / name, out / name)
    for name in PACKAGE_FILES:
        _copy(PACKAGE / name, out / "vendor" / name)
    listed = []
    for vm_path, src in vm_files():
        _copy(src, out / "py" / vm_path)
        listed.append(vm_path)
    with tempfile.TemporaryDirectory(prefix="web-") as tmp:
        staged = _stage(tmp, [], "pico_w", WEB / "settings.json")  # as for a story
        shutil.copyfile(WEB / "board.py", staged / "files" / "board.py")
        for src in sorted(p for p in staged.rglob("*") if p.is_file()):
            vm_path = "lib/devicevm/" + src.relative_to(staged).as_posix()
            _copy(src, out / "py" / vm_path)
            listed.append(vm_path)
    from tools.vpatient.patient import names

    for name in names():
        path = out / "py" / settings_file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(patient_settings(name), indent=1) + "\n", encoding="utf-8")
        listed.append(settings_file(name))
    (out / "py" / "files.json").write_text(json.dumps(sorted(listed), indent=0) + "\n",
                                           encoding="utf-8")
    return len(listed)


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES)

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")  # a rebuilt page is seen at once
        super().end_headers()

    def log_message(self, format, *args):
        pass


def server(out=DEFAULT_OUT, port=DEFAULT_PORT, host="127.0.0.1"):
    """An HTTP server of the built folder (port 0: any free port); serve_forever() runs it."""
    handler = functools.partial(_Handler, directory=str(out))
    return http.server.ThreadingHTTPServer((host, port), handler)


def address(httpd):
    host, port = httpd.server_address[:2]
    return "http://%s:%d/" % (host, port)
