# The device VM's BLE: a fake `bluetooth` module and aioble (tools/fake_ble.py, the
# same file the host tests use, staged as /lib/devicevm/fake_ble.py) in virtual time,
# and the CGM sensors a story puts in range. MicroPython only; fakes_vm installs it.
#
# A sensor measures every 5 min of story time (from when it was placed; "every_min"
# sets another cadence: 1 min keeps a story short, the VM runs about 7x real time); a
# record is stored for the RACP and notified when the link is up, as a CGMS sensor does.

import sys

import fake_ble
import vasyncio
import vtime

MIN_MS = 60_000
POLL_MS = 1_000  # a wait re-checks its condition at least this often
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

        def config(self, *args, **kwargs):
            return None

        def irq(self, handler):
            self.handler = handler

    return BLE


class _Module:
    pass


state = {"aioble": None, "sensors": [], "t0": {}}


def install(can_pair):
    """`bluetooth` and `aioble` in sys.modules; BLE() is one object, as on a board."""
    ble = _ble_class(can_pair)()
    radio = fake_ble.FakeAioble(VmClock(), ble=ble)
    bluetooth = _Module()
    bluetooth.BLE = lambda: ble
    bluetooth.UUID = fake_ble.UUID
    security = _Module()
    security.load_secrets = lambda path=None: None
    radio.security = security
    sys.modules["bluetooth"] = bluetooth
    sys.modules["aioble"] = radio
    sys.modules["aioble.security"] = security
    state["aioble"] = radio


def power_off():
    """The board stops: the radio's memory goes with the heap; sensors stay in range."""
    radio = state["aioble"]
    radio.core.ble.on = False
    radio.core.irq_handlers = []
    del _held[:]
    for sensor in state["sensors"]:
        sensor.drop()


def _addr(text):
    return bytes(int(part, 16) for part in text.split(":"))


class StorySensor:
    """One fake_ble.FakeSensor with a 5-minute measurement schedule in story time."""

    def __init__(self, spec, now_ms):
        self.sensor = fake_ble.FakeSensor(
            state["aioble"], _addr(spec["address"]), state["aioble"].clock,
            has_display="passkey" in spec, passkey=spec.get("passkey", 123456),
            bonded=bool(spec.get("bonded", False)))
        self.start_ms = now_ms
        self.every_ms = spec.get("every_min", 5) * MIN_MS
        self.next_ms = now_ms + self.every_ms
        self.values = [spec.get("mg_dl", 120)]
        state["sensors"].append(self)

    def readings(self, values, now, now_ms):
        self.values = list(values) if isinstance(values, list) else [values]
        if now:
            self.measure(now_ms)

    def measure(self, now_ms):
        mg_dl = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        self.sensor.measure((now_ms - self.start_ms) // MIN_MS, mg_dl=mg_dl)

    def due(self, now_ms):
        while self.next_ms <= now_ms:
            self.measure(self.next_ms)
            self.next_ms += self.every_ms


def next_due_ms():
    due = [s.next_ms for s in state["sensors"]]
    return min(due) if due else None


def tick(now_ms):
    for sensor in state["sensors"]:
        sensor.due(now_ms)


def step(step, now_ms):
    """A story's CGM step (see tools/devicevm/__init__.py); True when it was one."""
    if "cgm_sensor" in step or "cgm_second_sensor" in step:
        spec = dict(step.get("cgm_sensor") or step["cgm_second_sensor"])
        if "cgm_second_sensor" in step:
            spec["bonded"] = False
            first = state["sensors"][0] if state["sensors"] else None
            if first is not None:
                spec.setdefault("mg_dl", first.values[-1])
        StorySensor(spec, now_ms)
    elif "cgm" in step:
        spec = step["cgm"]
        for sensor in state["sensors"]:
            sensor.readings(spec["mg_dl"], spec.get("now", False), now_ms)
    elif "cgm_out_of_range" in step:
        for sensor in state["sensors"]:
            sensor.sensor.in_range = not step["cgm_out_of_range"]
            if not sensor.sensor.in_range:
                sensor.sensor.drop()
    else:
        return False
    return True
