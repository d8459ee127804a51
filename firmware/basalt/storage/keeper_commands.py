"""The keeper's rare commands (boot_ack, reconcile_bolus, save_settings,
reload_settings, force_tare / force_scale): Keeper imports this module for each and
forgets it after, so a running pump does not keep their code."""

import json

from basalt.core import checkpoint as ckp
from basalt.core import forcecal
from basalt.core import journal as jnl
from basalt.core.commands import in_units
from basalt.core.delivery import STOP_USER
from basalt.core.errors import BasaltError, InvalidValue, NotAllowedNow, StorageFault
from basalt.core.units import fmt_milli
from basalt.storage.keeper import SETTINGS_FILE

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_FORCE_SAMPLES = const(10)  # readings per step (1 s on an HX711 at 10 SPS)


def acknowledge_boot(keeper, now_ms, day_ms=None):
    """The user has seen the boot screen: the motor may move; delivery that was
    running before the reset carries on (scheduled basal, a low temp basal)."""
    if not keeper.awaiting_ack:
        raise NotAllowedNow("boot_ack", "the boot screen was already acknowledged")
    engine = keeper.engine
    if day_ms is not None:
        engine.set_time_of_day(now_ms, day_ms)
    keeper.awaiting_ack = False
    if keeper._restart_stop == ckp.STATE_DELIVERING and not keeper.fault \
            and not keeper.settings_error and not keeper.hardware_fault \
            and engine.stop_reason == STOP_USER:
        engine.resume(now_ms, "restart")
        temp = keeper._temp
        if temp is not None:
            engine.restore_temp(now_ms, temp[0], temp[1], temp[2], temp[3])
    keeper._temp = None
    keeper.stream.extend(engine.pop_events())
    keeper._emit("boot_acknowledged", {}, now_ms)


def reconcile(keeper, now_ms, delivered_mu=None):
    """The user settles the interrupted bolus: what they accept as delivered
    (default: the high bound, which counts the most insulin on board). Its real
    time is in the previous boot's clock: counting it as delivered now keeps the
    most of it on board (the safe side)."""
    u = keeper.uncertain
    if u is None:
        raise NotAllowedNow("reconcile_bolus", "no interrupted bolus to reconcile")
    lo, hi = u["delivered_lo_mu"], u["delivered_hi_mu"]
    if delivered_mu is None:
        delivered_mu = hi
    elif not lo <= delivered_mu <= hi:  # between what surely went in and what may have
        raise InvalidValue("reconcile_bolus units", in_units(delivered_mu),
                           "%s to %s U in steps of 0.001 U" % (fmt_milli(lo),
                                                               fmt_milli(hi)))
    detail = dict(u)
    detail["delivered_mu"] = delivered_mu
    keeper.uncertain = None
    keeper._emit("bolus_reconciled", detail, now_ms)
    keeper.iob.add_bolus(now_ms, delivered_mu)
    return delivered_mu


def save_settings(keeper, now_ms, obj):
    """Validate, write, read back and compare, THEN apply: the pump never runs on
    settings a boot would not load. A refusal or a flash fault leaves file and pump
    as they were (a flash fault raises StorageFault, with a delivery_fault alarm);
    the keys that changed are journaled."""
    old = None
    try:
        old, _ = keeper.settings.load()
    except BasaltError:
        pass
    old_bytes = keeper.settings.raw()
    validated = keeper.settings.validator(obj)
    try:
        keeper.settings.save(obj, validated)  # written and read back as written
    except StorageFault as fault:
        keeper.file_fault(fault, now_ms)
        raise
    if not isinstance(validated[0], dict):  # Settings (an opaque validator gives a table)
        # Applied whole or not at all; refused (what runs now breaks the new
        # limits), the old file goes back. The cgm section is read at boot only.
        try:
            keeper.apply_settings(validated[0])
        except BasaltError:
            if not keeper.settings.restore(old_bytes):
                fault = StorageFault(keeper.settings.name, "restore", OSError(
                    5, "the refused settings stay in the file"))
                keeper.file_fault(fault, now_ms)
                keeper.settings_error = "not restored after a refusal: " + str(fault)
            raise
    keeper.settings_error = None
    if isinstance(obj, dict) and "basal" in obj:
        keeper._settings_basal = True
        try:
            keeper.basal.remove()  # the file's basal profiles are the ones
        except StorageFault as fault:  # harmless (a boot ignores it), but said
            keeper.file_fault(fault, now_ms)
    changed = sorted(k for k in obj if not isinstance(old, dict) or old.get(k) != obj[k])
    keeper._emit("settings_changed", {"keys": changed[:16],
                                    "crc": jnl.crc(json.dumps(obj).encode())}, now_ms)
    if "cgm" in changed:
        # The BLE client and the reading store belong to one sensor: switching sensors
        # mid-run would mix two sensors' readings in one trend. A restart starts clean.
        keeper._emit("settings_pending", {"keys": ["cgm"], "message":
                                        "the CGM settings apply after a restart"},
                   now_ms)
    return validated

def reload_settings(keeper, now_ms):
    """A settings file copied on while the pump runs (mpremote cp): read, checked
    by the schema and applied whole now, not at the next boot; journaled. A refused
    file changes nothing that runs (the boot screen would refuse it too: say so)."""
    try:
        obj, validated = keeper.settings.load()
    except BasaltError as error:
        keeper._emit("settings_rejected", {"file": SETTINGS_FILE,
                                         "message": str(error)[:200]}, now_ms)
        raise
    if validated is None or isinstance(validated[0], dict):
        raise NotAllowedNow("reload settings", "no settings file to read")
    keeper.apply_settings(validated[0])
    keeper.settings_error = None
    keeper._settings_basal = "basal" in obj
    keeper._emit("settings_changed", {"keys": sorted(obj)[:16], "how": "reload",
                                    "crc": jnl.crc(json.dumps(obj).encode())}, now_ms)
    return validated


def calibrate(keeper, now_ms, name, known_mn):
    """force_tare (known_mn None: with the plunger free, _FORCE_SAMPLES readings become
    the zero) or force_scale (a known force on the sensor, 200 g: 1.962 N: the counts
    per newton)."""
    force = keeper.force
    if force is None:
        raise NotAllowedNow(name, "this board has no force sensor")
    if keeper.engine.stop_reason is None or keeper.motion.busy():
        raise NotAllowedNow(name, "suspend delivery first: the plunger must stand still")
    readings = [force.read_raw() for _ in range(_FORCE_SAMPLES)]
    if known_mn is None:
        calibration = forcecal.tare(force.calibration, readings)
    else:
        calibration = forcecal.scale(force.calibration, readings, known_mn)
    try:
        keeper.force_file.save(calibration)
    except StorageFault as fault:
        keeper.file_fault(fault, now_ms)
        raise
    force.calibration = calibration
    detail = dict(calibration)
    detail["how"] = name
    keeper._emit("force_calibrated", detail, now_ms)
    return calibration
