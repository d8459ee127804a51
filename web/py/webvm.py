# The browser page's side of the VM (MicroPython): the real firmware (main.py ->
# basalt.app.device.start) on the browser board, over the device VM's fakes
# (tools/devicevm/py: vtime, vasyncio, vhw, vble, fake_ble; story_vm's boot, run and
# keys), beside the virtual patient (tools/vpatient). web/app.js calls these functions.
#
# Each simulated minute: the firmware runs a minute; the plunger's microsteps over it
# are the insulin the patient gets (beyond the furthest it pushed before: pulling back
# takes nothing back; while the line is blocked nothing arrives, and what was pushed
# arrives when it opens); the patient steps a minute with any carbs eaten;
# the CGM sensor's next readings are the patient's CGM values. The sensor reaches the
# firmware over the fake BLE link (vble.StorySensor: the CGMS wire format, as on the
# vboard), so the pump knows only what a pump would know.

import json
import sys

sys.path.insert(0, "/lib/devicevm")
import story_vm as vm  # noqa: E402  (installs the fakes: time, asyncio, machine, BLE)

# isort: split
import vble  # noqa: E402
import vboard  # noqa: E402
import vtime  # noqa: E402
from vpatient import cgm as vcgm  # noqa: E402
from vpatient import patient as vpatient  # noqa: E402

MIN_MS = 60_000
PRESS_MS = 100  # the shortest key press (a click), as in a story
SETTLE_MS = 150  # after a release, before the next key
SENSOR = "c0:ff:ee:00:00:01"  # the address in web/settings.json's cgm section
# A blocked line: the plunger still moves, the fluid cannot leave, and the force on the
# load cell rises with each microstep pushed: the drive (12.5 mN per microstep) in series
# with the fluid's compliance (8.4 mN per microstep), the rig parameters of
# tools/sim/occlusion_physics.py: 1 / (1/12.5 + 1/8.4) = 5.0 mN per microstep.
BLOCKED_MN_PER_USTEP = 5.0
FORCE_EVERY_MS = 1_000  # how often a blocked line's force follows the plunger
EPOCH_DAY = 1796515200  # 2026-12-06 00:00 UTC: the RTC's date (a board set before)

S = {"patient": None, "cgm": None, "sensor": None, "carbs": 0, "minute_at": 0,
     "usteps_at": 0, "bolus_at": 0, "pressed": {}, "samples": [], "mu_per_ustep": 0.0,
     "last_cgm": None, "due": None, "blocked_at": None, "free_mn": 0}


def names():
    return json.dumps(vpatient.names())


def start(patient, start_min=420, cgm_on=True, settings="patient"):
    """Power the board on with the patient attached; the RTC at start_min of the day.
    settings: "patient" (the patient's therapy, as tools.web writes it for each of the
    30) or "example" (web/settings.json as it is)."""
    S["patient"] = vpatient.Patient(patient)
    S["cgm"] = vcgm.CGM(seed=1)
    if settings == "patient":
        name = "/lib/devicevm/settings/%s.json" % patient.replace("#", "_")
        with open(name) as src, open("/settings.json", "w") as dst:
            dst.write(src.read())
    vtime.set_rtc(EPOCH_DAY + int(start_min) * 60)
    if cgm_on:
        _cgm_step({"cgm_sensor": {"address": SENSOR, "mg_dl": _cgm_value()}})
        S["sensor"] = vble.state["by_addr"][SENSOR]
        S["due"] = S["sensor"].next_ms
    board = vm._board()
    S["mu_per_ustep"] = 1_000_000 / board.usteps_for_mu(1_000_000)
    for _ in vm.boot("power"):
        pass
    S["minute_at"] = vm.story_ms()
    S["usteps_at"] = vboard.position()
    S["bolus_at"] = _status().get("bolus", 0)


def _cgm_value():
    """The sensor's reading now (its model samples every 3 min and holds between)."""
    return int(S["cgm"].measure(S["patient"]) + 0.5)


def run(ms):
    """Run the firmware (and the patient) for ms of simulated time."""
    end = vm.story_ms() + int(ms)
    while vm.story_ms() < end:
        until = min(end, S["minute_at"] + MIN_MS)
        if S["blocked_at"] is not None:
            until = min(until, vm.story_ms() + FORCE_EVERY_MS)
        for _ in vm.run_ms(until - vm.story_ms()):
            pass
        if S["blocked_at"] is not None:
            pushed = vboard.position() - S["blocked_at"]
            vboard.set_force_mn(S["free_mn"] + int(BLOCKED_MN_PER_USTEP * max(0, pushed)))
        if vm.story_ms() >= S["minute_at"] + MIN_MS:
            _minute()


def _minute():
    """A minute of the patient, with the insulin the plunger pushed in that minute."""
    S["minute_at"] += MIN_MS
    units = 0.0
    if S["blocked_at"] is None:  # the fluid leaves as far as the plunger ever pushed it
        now = vboard.position()
        units = max(0, now - S["usteps_at"]) * S["mu_per_ustep"] / 1000
        S["usteps_at"] = max(S["usteps_at"], now)  # a back-off pulls nothing back
    patient = S["patient"]
    patient.step(1, S["carbs"], units)
    carbs, S["carbs"] = S["carbs"], 0
    sensor = S["sensor"]
    if sensor is not None:
        if sensor.next_ms != S["due"]:  # it measured in this minute, what was sent
            S["due"] = sensor.next_ms
            S["last_cgm"] = sensor.values[0]
        sensor.values = [_cgm_value()]  # for its next measurement
    status = _status()
    bolus = status.get("bolus", S["bolus_at"])
    bolus_mu = int(max(0, bolus - S["bolus_at"]) * S["mu_per_ustep"] + 0.5)  # 0 at a reboot
    S["bolus_at"] = bolus
    S["samples"].append([S["minute_at"] // MIN_MS, round(patient.glucose_mg_dl, 1),
                         S["last_cgm"] if sensor is not None else None,
                         status.get("rate_mu_h"), bolus_mu, _iob_mu(), carbs])


def _app():
    device = sys.modules.get("basalt.app.device")
    return None if device is None else device.app


def _status():
    """What a host tool reads over USB ({"q": "status"}), through the USB service."""
    app = _app()
    if app is None:
        return {}
    from basalt.app.usb_service import UsbService

    return json.loads(UsbService(app, None).answer('{"q": "status"}'))


def _iob_mu():
    app = _app()
    return None if app is None else app.iob.iob_mu(app.clock.now_ms())


def key(name, down):
    """A key from the page: down now; up no sooner than a click's press, then settled."""
    if down:
        S["pressed"][name] = vm.story_ms()
        vm.key(name, True)
        return
    held = vm.story_ms() - S["pressed"].pop(name, vm.story_ms() - PRESS_MS)
    if held < PRESS_MS:
        run(PRESS_MS - held)
    vm.key(name, False)
    run(SETTLE_MS)


def block(blocked):
    """The line blocked (True) or open again (False: the force back to the friction's)."""
    if blocked and S["blocked_at"] is None:
        S["free_mn"] = vboard.hx711.force_mn
        S["blocked_at"] = vboard.position()
    elif not blocked and S["blocked_at"] is not None:
        S["blocked_at"] = None
        vboard.set_force_mn(S["free_mn"])


def cgm_in_range(in_range):
    """The CGM sensor in range or not (out of range: the link drops, readings are kept
    by the sensor for the back-fill, as on the vboard)."""
    _cgm_step({"cgm_out_of_range": not in_range})


def _cgm_step(step):
    """A CGM step in the device VM's story vocabulary (vble.step, a generator)."""
    for _ in vble.step(step, vm.story_ms(), vm.run_ms):
        pass


def eat(grams):
    """Carbs the patient eats (the pump knows only what is entered on it)."""
    S["carbs"] += max(0, int(grams))


def samples():
    """The minutes sampled since the last call, as JSON (the plot's rows)."""
    rows, S["samples"] = S["samples"], []
    return json.dumps(rows)


def state():
    """The page's view, as JSON: the OLED frame (hex, "" when off), the clock, the
    plunger, the patient, crashes and resets."""
    panel = vboard.i2c_devices[0x3C]
    patient = S["patient"]
    return json.dumps({
        "t_ms": vm.story_ms(), "frame": vm.frame(), "contrast": getattr(panel, "contrast", 255),
        "usteps": vboard.position(), "mu_per_ustep": S["mu_per_ustep"],
        "glucose": round(patient.glucose_mg_dl, 1), "cgm": S["last_cgm"],
        "force_mn": vboard.hx711.force_mn, "crashes": vm.out["crashes"],
        "resets": vm.out["resets"]})
