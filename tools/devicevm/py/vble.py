# The device VM's BLE: a fake `bluetooth` module and aioble (tools/fake_ble.py, the
# same file the host tests use, staged as /lib/fake_ble.py) in virtual time, the CGM
# sensors a story puts in range and the CGM simulator board. MicroPython only; fakes_vm
# installs it. The steps are documented once, in tools/devicevm/__init__.py.
#
# A sensor measures every 5 min of story time (from when it was placed; "every_min"
# sets another cadence, 0 none: it measures on {"cgm": ...} steps only); a record is
# stored for the RACP and notified when the link is up, as a CGMS sensor does. The
# sensors are the world outside the pump: they stay in range (and keep their records)
# over the pump's power cuts; the pump's radio restarts empty at each boot and reloads
# its bond keys from /data as aioble.security does (fake_ble.FakeAioble).

import asyncio
import binascii
import sys

import fake_ble
import vasyncio
import vtime

MIN_MS = 60_000
POLL_MS = 1_000  # a wait re-checks its condition at least this often
NAP_MS = 20  # how often a wait with no event to wake it (the simulator's side) looks
PACE_MS = 30  # between two notifications of one RACP answer (a connection interval)

# On the Pico W, activating the BLE stack puts MicroPython's BLE state on the GC heap:
# the BLE object with its 128-byte IRQ event ring buffer (MICROPY_PY_BLUETOOTH_RINGBUF_
# SIZE, extmod/modbluetooth.h) and the BTstack root pointers with the GATT server's
# attribute map (m_new0 in mp_bluetooth_init, extmod/btstack/modbluetooth_btstack.c).
# BTstack's own pools are static ("We don't give btstack a malloc", extmod/btstack/
# btstack_config_common.h); the CYW43 firmware download buffer is m_tracked_calloc'd and
# freed again (micropython PR #12647). No measured figure was found: 1 KiB is our
# estimate of what stays (see docs/references.md). On the ESP32, NimBLE and its
# controller allocate from the ESP-IDF heap, outside the GC heap: nothing is reserved.
BTSTACK_GC_BYTES = 1024
_held = []  # what the radio stack keeps on the GC heap while active


class VmClock:
    """The fakes' clock: story time in ms; waits sleep in virtual time."""

    def now_ms(self):
        return vtime.now_us() // 1000

    async def sleep_ms(self, ms):
        await vasyncio.sleep_ms(ms)

    async def idle(self, changed, left_ms):
        if changed is None:
            await vasyncio.sleep_ms(NAP_MS if left_ms is None else min(NAP_MS, left_ms))
            return
        changed.clear()
        wait = POLL_MS if left_ms is None else min(POLL_MS, left_ms)
        try:
            await vasyncio.wait_for_ms(changed.wait(), wait)
        except vasyncio.TimeoutError:
            pass

    async def pace(self):
        await vasyncio.sleep_ms(PACE_MS)


def _ble_class(can_pair):
    base = fake_ble.PairingBLE if can_pair else fake_ble.FakeBLE

    class BLE(base):
        def active(self, value=None):
            if value and not self.on and not can_pair:
                _held.append(bytearray(BTSTACK_GC_BYTES))
            elif value is not None and not value:
                del _held[:]
            return base.active(self, value)

        def irq(self, handler):
            self.handler = handler

    return BLE


class _Module:
    pass


state = {"aioble": None, "sensors": [], "by_addr": {}, "originals": {}}


def install(can_pair):
    """`bluetooth` and `aioble` in sys.modules; BLE() is the radio's one object, as on
    a board. NimBLE (ESP32) pairs, the Pico W's BTstack cannot."""
    radio = fake_ble.FakeAioble(VmClock(), can_pair=can_pair, ble=_ble_class(can_pair)())
    bluetooth = _Module()
    bluetooth.BLE = lambda: radio.core.ble
    bluetooth.UUID = fake_ble.UUID
    sys.modules["bluetooth"] = bluetooth
    sys.modules["aioble"] = radio
    sys.modules["aioble.security"] = radio.security
    state["aioble"] = radio


def power_off():
    """The board stops: the radio's memory goes with the heap; sensors stay in range."""
    radio = state["aioble"]
    radio.core.ble.on = False
    radio.core.irq_handlers = []
    del _held[:]
    for sensor in state["sensors"]:
        sensor.sensor.drop()


def power_on():
    """A boot: a fresh radio (no IRQ handler, no keys in RAM)."""
    del _held[:]
    state["aioble"].power_on()


def _addr(text):
    return binascii.unhexlify(text.replace(":", ""))


class StorySensor:
    """One fake_ble.FakeSensor with a measurement schedule in story time."""

    def __init__(self, spec, now_ms):
        radio = state["aioble"]
        self.sensor = fake_ble.FakeSensor(
            radio, _addr(spec["address"]), radio.clock,
            has_display="passkey" in spec, passkey=spec.get("passkey", 123456),
            bonded=bool(spec.get("bonded", False)))
        self.start_ms = now_ms
        self.every_ms = spec.get("every_min", 5) * MIN_MS
        self.next_ms = now_ms + self.every_ms if self.every_ms else None
        self.values = [spec.get("mg_dl", 120)]
        state["sensors"].append(self)

    def readings(self, values, now, now_ms):
        self.values = list(values) if isinstance(values, list) else [values]
        if now:
            self.measure(now_ms)

    def measure(self, now_ms):
        mg_dl = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        offset = (now_ms - self.start_ms) // MIN_MS
        if self.sensor.records:  # two in one minute: the next offset, as a sensor would
            offset = max(offset, self.sensor.current_offset() + 1)
        self.sensor.measure(offset, mg_dl=mg_dl)

    def due(self, now_ms):
        while self.next_ms is not None and self.next_ms <= now_ms:
            self.measure(self.next_ms)
            self.next_ms += self.every_ms

    def in_range(self, on):
        self.sensor.in_range = on
        if not on:
            self.sensor.drop()


def next_due_ms():
    due = [s.next_ms for s in state["sensors"] if s.in_use and s.next_ms is not None]
    return min(due) if due else None


def tick(now_ms):
    for sensor in state["sensors"]:
        if sensor.in_use:
            sensor.due(now_ms)


def _place(spec, now_ms):
    """A sensor comes in range: a new one, the one with that address back again, or
    (clone) another device with that address and data but not its keys."""
    addr, by_addr, originals = spec["address"], state["by_addr"], state["originals"]
    known = by_addr.get(addr)
    if spec.get("clone"):
        if known is not None:
            originals[addr] = known
            known.in_range(False)
            known.in_use = False
    elif known is not None:
        if addr in originals:
            known.in_range(False)
            known.in_use = False
            known = by_addr[addr] = originals.pop(addr)
        known.in_use = True
        known.in_range(True)
        return
    sensor = StorySensor(spec, now_ms)
    sensor.in_use = True
    by_addr[addr] = sensor


def _chosen(addr):
    return [state["by_addr"][addr]] if addr else [s for s in state["sensors"] if s.in_use]


def step(step, now_ms, run_ms):
    """A story's CGM step, if it is one (see tools/devicevm/__init__.py): a generator
    like the runner's steps (run_ms is one)."""
    if "cgm_sensor" in step or "cgm_second_sensor" in step:
        spec = dict(step.get("cgm_sensor") or step["cgm_second_sensor"])
        if "cgm_second_sensor" in step:
            spec["bonded"] = False
            first = state["sensors"][0] if state["sensors"] else None
            if first is not None:
                spec.setdefault("mg_dl", first.values[-1])
        _place(spec, now_ms)
    elif "cgm" in step:
        spec = step["cgm"]
        for sensor in _chosen(spec.get("sensor")):
            sensor.readings(spec["mg_dl"], spec.get("now", False), now_ms)
    elif "cgm_out_of_range" in step:
        away = step["cgm_out_of_range"]
        for sensor in _chosen(away if isinstance(away, str) else None):
            sensor.in_range(not away)
    elif any(key.startswith("cgm_sim") for key in step):
        yield from _sim_step(step, run_ms)


# --- the CGM simulator board: its own firmware on a fake GATT server on the same air ---

SIM_ADDR = "5e:50:c0:de:00:01"
_sim = {}


def _simulator(config):
    """The simulator's main.py imported with the fake GATT server as its aioble (the
    pump's aioble is put back after), its bonding enabled, its tasks started."""
    from cgm_sensor import SensorModel, load_config

    radio = state["aioble"]
    peripheral = fake_ble.FakePeripheralAioble(radio, _addr(SIM_ADDR), radio.clock,
                                               can_pair=radio.can_pair)
    pump_side = sys.modules.get("aioble")
    sys.modules["aioble"] = peripheral
    try:
        import cgm_sim_main as main

        main.enable_bonding()
    finally:
        sys.modules["aioble"] = pump_side
    config = dict(config)
    pins = [_Pin(), _Pin()]
    config["button_up"], config["button_down"] = 1, 2
    _sim["sim"] = sim = main.CgmPeripheral(SensorModel(load_config(config)))
    _sim["pins"] = {"up": pins[0], "down": pins[1]}
    _sim["tasks"] = [asyncio.create_task(coro) for coro in (
        sim.advertise(), sim.measure(), sim.answer_racp(),
        sim.buttons([(pins[0], "up"), (pins[1], "down")]))]


class _Pin:
    def __init__(self):
        self.level = 1

    def value(self):
        return self.level


def _sim_step(step, run_ms):
    if "cgm_sim" in step:
        _simulator(step["cgm_sim"])
    elif "cgm_sim_serial" in step:
        _sim["sim"].command(step["cgm_sim_serial"])
    elif "cgm_sim_button" in step:
        pin = _sim["pins"][step["cgm_sim_button"]]
        pin.level = 0
        yield from run_ms(100)
        pin.level = 1
