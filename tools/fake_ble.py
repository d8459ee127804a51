"""A fake aioble (central + client + security) and fake CGMS sensors, for host tests.

It keeps the contracts of the real library that the CGM client must live with:

- a client characteristic keeps only the newest notification (aioble's queue holds one),
  so a client that does not drain promptly loses records, as on a board;
- operations on a dropped link raise DeviceDisconnectedError, also while waiting;
- subscribe(notify=True) on a characteristic without notify raises ValueError, and
  indicated()/notified() need the matching subscription;
- pairing exists only when the fake BLE object has gap_pair (ESP32), and a sensor without
  a display gives an encrypted but unauthenticated link (Just Works);
- bonding: a numeric comparison the central accepts stores the sensor's key in the
  central's table (`PairingBLE.keys`, what aioble.security keeps through
  _IRQ_SET_SECRET); a later pair() with a sensor holding the same key encrypts without
  asking, and a sensor with that address but another key (a clone) must pair afresh;
  a sensor marked `bonded` re-encrypts with a bond stored before the test began;
- time-outs follow the test's clock (StepClock), so nothing depends on wall time.

One implementation for CPython and MicroPython (no deque, no get_running_loop): the
device VM loads this file too (tools/devicevm/py/vble.py). The clock decides how a wait
passes: StepClock.idle() yields once (the test moves time); the VM's clock sleeps in
virtual time until the sensor's `changed` event or the time-out.

Sensors speak the real wire format through basalt.core.cgms (the simulator board's
encoder): records, E2E-CRC, Feature, Status, Session Start Time and the RACP.
"""

import asyncio
import binascii
import json

from basalt.core import cgms, cgms_link, cgms_sensor
from basalt.ports import Clock


class DeviceDisconnectedError(Exception):
    pass


class GattError(Exception):
    pass


class StepClock(Clock):
    """Time moves only when the test says so; sleeps yield and are recorded."""

    def __init__(self, now_ms=0):
        self._now = now_ms
        self.sleeps = []

    def now_ms(self):
        return self._now

    def advance(self, ms):
        self._now += ms

    async def sleep_ms(self, ms):
        if ms >= 1_000:
            self.sleeps.append(ms)
        await asyncio.sleep(0)

    async def idle(self, changed, left_ms):
        """One wait for a condition (see _until): here one event-loop turn."""
        await asyncio.sleep(0)

    async def pace(self):
        """Between two notifications a sensor sends (two event-loop turns here)."""
        await asyncio.sleep(0)
        await asyncio.sleep(0)


class UUID:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, UUID) and other.value == self.value

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return "UUID(0x%04X)" % self.value


class FakeBLE:
    """bluetooth.BLE on a port without pairing (Pico W / BTstack)."""

    def __init__(self):
        self.passkey_answers = []
        self.configured = {}
        self.on = False

    def config(self, **settings):
        self.configured.update(settings)

    def active(self, value=None):
        if value is not None:
            self.on = bool(value)
        return self.on


class PairingBLE(FakeBLE):
    """bluetooth.BLE on ESP32 (NimBLE): has gap_pair and gap_passkey; `keys` is the bond
    table (peer address -> key) aioble.security would keep."""

    def __init__(self):
        super().__init__()
        self.keys = {}

    def gap_pair(self, conn_handle):
        pass

    def gap_passkey(self, conn_handle, action, answer):
        self.passkey_answers.append((conn_handle, action, answer))


class _Core:
    def __init__(self, ble):
        self.ble = ble
        self.irq_handlers = []

    def register_irq_handler(self, handler, shutdown):
        self.irq_handlers.append(handler)

    def irq(self, event, data):
        for handler in self.irq_handlers:
            result = handler(event, data)
            if result is not None:
                return result
        return None


class FakeAioble:
    """The slice of aioble the CGM client uses, over a list of sensors in range."""

    DeviceDisconnectedError = DeviceDisconnectedError
    GattError = GattError

    def __init__(self, clock, sensors=(), can_pair=False, ble=None):
        self.clock = clock
        self.sensors = list(sensors)
        self.can_pair = can_pair
        if ble is None:
            ble = PairingBLE() if can_pair else FakeBLE()
        self.core = _Core(ble)
        self.registered_services = []  # a GATT server registration would land here
        self.security = self  # `from aioble import security`
        self.secrets_path = None

    def power_on(self):
        """A reset: a fresh radio (no IRQ handler, no keys in RAM); sensors stay."""
        self.core = _Core(type(self.core.ble)())

    # --- aioble.security: the bond keys as a JSON file, loaded before the radio starts

    def load_secrets(self, path=None):
        self.secrets_path = path or self.secrets_path
        keys = getattr(self.core.ble, "keys", None)
        if keys is None or self.secrets_path is None:
            return
        keys.clear()
        try:
            with open(self.secrets_path) as f:
                for addr, key in json.load(f):
                    keys[binascii.unhexlify(addr)] = binascii.unhexlify(key)
        except (OSError, ValueError):
            pass  # as aioble: no file, or one that does not load, is no keys

    def save_secrets(self):
        if self.secrets_path is None:
            return
        with open(self.secrets_path, "w") as f:
            json.dump([[binascii.hexlify(a).decode(), binascii.hexlify(k).decode()]
                       for a, k in self.core.ble.keys.items()], f)

    def Device(self, addr_type, addr):  # noqa: N802  (aioble's name)
        return FakeDevice(self, addr_type, bytes(addr))

    def scan(self, duration_ms, interval_us=None, window_us=None, active=False):
        self.core.ble.active(True)  # aioble's ensure_active()
        return _Scan([s for s in self.sensors if s.in_range])

    def register_services(self, *services):
        self.registered_services.extend(services)

    def sensor_at(self, addr):
        for sensor in self.sensors:
            if sensor.addr == addr and sensor.in_range:
                return sensor
        return None


class _ScanResult:
    def __init__(self, sensor, aioble):
        self.device = FakeDevice(aioble, 0, sensor.addr)
        self._uuids = [UUID(u) for u in sensor.advertised]

    def services(self):
        yield from self._uuids


class _Scan:
    def __init__(self, sensors):
        self._sensors = sensors

    async def __aenter__(self):
        self._results = iter(self._sensors)
        return self

    async def __aexit__(self, *exc):
        return False

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.sleep(0)
        for sensor in self._results:
            return _ScanResult(sensor, sensor.aioble)
        raise StopAsyncIteration


class FakeDevice:
    def __init__(self, aioble, addr_type, addr):
        self.aioble = aioble
        self.addr_type = addr_type
        self.addr = addr

    async def connect(self, timeout_ms=10_000):
        self.aioble.core.ble.active(True)  # aioble's ensure_active()
        await asyncio.sleep(0)
        sensor = self.aioble.sensor_at(self.addr)
        if sensor is None:
            raise asyncio.TimeoutError()
        return sensor.accept(self)


class FakeConnection:
    def __init__(self, sensor, device):
        self.sensor = sensor
        self.device = device
        self.encrypted = False
        self.authenticated = False
        self.bonded = False
        self.connected = True
        self._conn_handle = 1

    def is_connected(self):
        return self.connected

    async def disconnect(self, timeout_ms=2_000):
        self.sensor.drop()

    async def service(self, uuid, timeout_ms=2_000):
        self._live()
        await asyncio.sleep(0)
        if uuid == UUID(cgms.SERVICE_UUID) and self.sensor.has_cgm_service:
            return _Service(self)
        return None

    async def pair(self, bond=True, le_secure=True, mitm=False, io=3, timeout_ms=20_000):
        core = self.device.aioble.core
        if not hasattr(core.ble, "gap_pair"):
            raise AttributeError("'BLE' object has no attribute 'gap_pair'")
        sensor = self.sensor
        sensor.pair_calls.append({"bond": bond, "le_secure": le_secure, "mitm": mitm,
                                  "io": io})
        keys = core.ble.keys
        if keys.get(sensor.addr) == sensor.bond_key:  # bonded before: the keys match
            self.encrypted = self.authenticated = self.bonded = True
            return
        self.encrypted = True
        self.bonded = bond
        if sensor.bonded:  # the stored bond: encrypted with its authenticated key
            self.authenticated = True
            return
        if mitm and sensor.has_display and io in (1, 4):
            answers = core.ble.passkey_answers
            asked = len(answers)
            core.irq(31, (self._conn_handle, 4, sensor.passkey))
            await _until(sensor.clock, lambda: len(answers) > asked or not self.connected,
                         timeout_ms, sensor.changed)
            self._live()
            self.authenticated = bool(answers[-1][2]) and sensor.peer_confirms(sensor.passkey)
            if not self.authenticated:
                self.encrypted = self.bonded = False
                raise GattError("pairing failed: numeric comparison rejected")
            if bond:
                keys[sensor.addr] = sensor.bond_key  # _IRQ_SET_SECRET
                self.device.aioble.save_secrets()

    def _live(self):
        if not self.connected:
            raise DeviceDisconnectedError()


class _Service:
    def __init__(self, connection):
        self.connection = connection

    async def characteristic(self, uuid, timeout_ms=2_000):
        self.connection._live()
        await asyncio.sleep(0)
        spec = self.connection.sensor.gatt.get(uuid.value)
        if spec is None:
            return None
        return self.connection.sensor.client_char(uuid.value, spec)


class ClientCharacteristic:
    def __init__(self, sensor, uuid, properties):
        self.sensor = sensor
        self.uuid = uuid
        self.properties = properties
        self._notify_queue = []  # aioble: only the newest notification (at most one)
        self._indicate_queue = []
        self.subscribed = set()
        self.lost = 0

    async def read(self, timeout_ms=1_000):
        self._live()
        if "read" not in self.properties:
            raise GattError("read not permitted")
        await asyncio.sleep(0)
        return bytes(self.sensor.read(self.uuid))

    async def write(self, data, response=None, timeout_ms=1_000):
        self._live()
        if "write" not in self.properties:
            raise GattError("write not permitted")
        await asyncio.sleep(0)
        self.sensor.written(self.uuid, bytes(data))

    async def subscribe(self, notify=True, indicate=False):
        self._live()
        for kind, wanted in (("notify", notify), ("indicate", indicate)):
            if wanted and kind not in self.properties:
                raise ValueError("Not supported")
            if wanted:
                self.subscribed.add(kind)
        await asyncio.sleep(0)

    async def notified(self, timeout_ms=None):
        return await self._next("notify", self._notify_queue, timeout_ms)

    async def indicated(self, timeout_ms=None):
        return await self._next("indicate", self._indicate_queue, timeout_ms)

    async def _next(self, kind, queue, timeout_ms):
        if kind not in self.subscribed:
            raise ValueError("not subscribed to %s" % kind)
        await _until(self.sensor.clock, lambda: queue or not self.sensor.link_up(self),
                     timeout_ms, self.sensor.changed)
        if queue:
            return queue.pop()
        raise DeviceDisconnectedError()

    def push(self, kind, data):
        queue = self._notify_queue if kind == "notify" else self._indicate_queue
        if kind in self.subscribed:
            if queue:
                self.lost += 1
                queue.pop()
            queue.append(bytes(data))
            self.sensor.changed.set()

    def _live(self):
        if not self.sensor.link_up(self):
            raise DeviceDisconnectedError()


async def _until(clock, condition, timeout_ms, changed=None):
    """Wait for condition(); `changed` (an Event, if any) is set when it may hold."""
    start = clock.now_ms()
    while not condition():
        left = None if timeout_ms is None else timeout_ms - (clock.now_ms() - start)
        if left is not None and left <= 0:
            raise asyncio.TimeoutError()
        await clock.idle(changed, left)


_GATT = {
    cgms.MEASUREMENT_UUID: ("notify",),
    cgms.FEATURE_UUID: ("read",),
    cgms.STATUS_UUID: ("read",),
    cgms.SESSION_START_UUID: ("read", "write"),
    cgms.SESSION_RUN_UUID: ("read",),
    cgms.RACP_UUID: ("write", "indicate"),
}


class FakeSensor:
    """A CGMS sensor: stores every record it made and answers the RACP from them."""

    made = 0

    def __init__(self, aioble, addr, clock, crc=True, has_display=False, passkey=123456,
                 bond_key=None, bonded=False):
        self.aioble = aioble
        self.addr = bytes(addr)
        FakeSensor.made += 1
        # its own long-term key: a clone with the same address has another one
        self.bond_key = bond_key if bond_key is not None else bytes(
            [FakeSensor.made % 256]) + self.addr
        self.clock = clock
        self.crc = crc
        self.has_display = has_display
        self.passkey = passkey
        self.bonded = bonded
        self.changed = asyncio.Event()  # set when a notification arrives or the link drops
        self.in_range = True
        self.has_cgm_service = True
        self.advertised = [cgms.SERVICE_UUID]
        self.gatt = dict(_GATT)
        self.records = []  # (offset, encoded record)
        self.session = cgms_link.SessionStart(2026, 11, 20, 8, 0, 0, 4, 0)
        self.connection = None
        self.pair_calls = []
        self.racp_requests = []
        self.racp_pending = []
        self._pumping = None
        self._chars = {}
        aioble.sensors.append(self)

    # --- what the test does --------------------------------------------------------

    def measure(self, offset, mg_dl=None, raw=None, annunciation=None, send=True):
        """Make a record (stored for the RACP) and notify it when connected."""
        if raw is None:
            raw = cgms_sensor.sfloat_from_milli(mg_dl * 1000)
        record = bytes(cgms_sensor.encode_record(raw, offset, annunciation, crc=self.crc))
        self.records.append((offset, record))
        if send:
            self.notify(record)
        return record

    def notify(self, data):
        char = self._chars.get(cgms.MEASUREMENT_UUID)
        if char is not None and self.link_up(char):
            char.push("notify", data)

    def drop(self):
        if self.connection is not None:
            self.connection.connected = False
        self.connection = None
        self._chars = {}
        self.changed.set()

    def current_offset(self):
        return self.records[-1][0] if self.records else 0

    async def pump(self):
        """Send queued RACP answers, one notification per event-loop turn (real pace)."""
        while self.racp_pending:
            kind, data = self.racp_pending.pop(0)
            char = self._chars.get(cgms.RACP_UUID if kind == "indicate"
                                   else cgms.MEASUREMENT_UUID)
            if char is not None and self.link_up(char):
                char.push(kind, data)
            await self.clock.pace()

    # --- what the fake radio calls ----------------------------------------------------

    def peer_confirms(self, passkey):
        """The sensor's side of a numeric comparison (a test sensor always agrees)."""
        return True

    def accept(self, device):
        self.drop()
        self.connection = FakeConnection(self, device)
        return self.connection

    def link_up(self, char):
        return self.connection is not None and self._chars.get(char.uuid) is char

    def client_char(self, uuid, properties):
        char = ClientCharacteristic(self, uuid, properties)
        self._chars[uuid] = char
        return char

    def read(self, uuid):
        if uuid == cgms.FEATURE_UUID:
            flags = cgms.FEATURE_TREND | (cgms.FEATURE_E2E_CRC if self.crc else 0)
            return cgms_sensor.encode_feature(flags)
        if uuid == cgms.STATUS_UUID:
            return cgms_sensor.encode_status(self.current_offset(), 0, self.crc)
        if uuid == cgms.SESSION_START_UUID:
            return cgms_sensor.encode_session_start(self.session, self.crc)
        return cgms_sensor.encode_session_run(336, self.crc)

    def written(self, uuid, data):
        if uuid != cgms.RACP_UUID:
            return
        self.racp_requests.append(data)
        self._answer(data)
        if self._pumping is None or self._pumping.done():
            self._pumping = asyncio.create_task(self.pump())

    def _answer(self, data):
        try:
            op, operator, since = cgms_sensor.decode_racp_request(data)
        except cgms.CgmFormatError as error:
            self.racp_pending.append(("indicate",
                                      cgms_sensor.racp_response(data[0], error.racp_code)))
            return
        if op != cgms_link.RACP_REPORT:
            self.racp_pending.append(("indicate", cgms_sensor.racp_response(op, 2)))
            return
        found = [r for o, r in self.records
                 if operator == cgms_link.OP_ALL
                 or (operator == cgms_link.OP_GREATER_EQUAL and o >= since)]
        if operator == cgms_link.OP_LAST:
            found = self.records[-1:] and [self.records[-1][1]]
        for record in found:
            self.racp_pending.append(("notify", record))
        code = cgms_link.RACP_SUCCESS if found else cgms_link.RACP_NO_RECORDS
        self.racp_pending.append(("indicate", cgms_sensor.racp_response(op, code)))


# --- the CGM simulator board's side: aioble as a GATT server, on the same fake air -----

class FakePeripheralAioble:
    """The slice of aioble the CGM simulator board (tools/cgm_peripheral/main.py) uses as
    a GATT server, on the air of a FakeAioble central: while it advertises, the central's
    scan finds it as a sensor (SimLink); reads, writes, notifications and indications go
    between the two; pairing asks both sides to compare the number (where both can)."""

    def __init__(self, central, addr, clock, can_pair=False):
        self.clock = clock
        self.core = _Core(PairingBLE() if can_pair else FakeBLE())
        self.secrets_path = None
        self.security = self  # aioble.security.load_secrets(path)
        self.link = SimLink(self, central, addr, clock)

    def load_secrets(self, path=None):
        self.secrets_path = path

    def Service(self, uuid):  # noqa: N802  (aioble's names)
        return _SimService(uuid)

    def Characteristic(self, service, uuid, read=False, write=False, notify=False,  # noqa: N802
                       indicate=False, initial=None, capture=False):
        props = tuple(name for name, on in (("read", read), ("write", write),
                                            ("notify", notify), ("indicate", indicate)) if on)
        char = _SimCharacteristic(self.link, uuid.value, props, initial)
        service.characteristics.append(char)
        return char

    def register_services(self, *services):
        for service in services:
            self.link.serve(service)

    async def advertise(self, interval_us, name=None, services=None, appearance=0,
                        timeout_ms=None):
        link = self.link
        link.in_range = True
        try:
            await _until(self.clock, lambda: link.connection is not None, timeout_ms)
        finally:
            link.in_range = False  # connected (or given up): no longer advertising
        return _SimConnection(link, link.connection)


class _SimService:
    def __init__(self, uuid):
        self.uuid = uuid
        self.characteristics = []


class _SimConnection:
    def __init__(self, link, central_side):
        self.link = link
        self.central_side = central_side
        self.device = "central"

    def is_connected(self):
        return self.central_side.connected

    async def disconnected(self, timeout_ms=None):
        await _until(self.link.clock, lambda: not self.central_side.connected, timeout_ms)

    async def disconnect(self, timeout_ms=2_000):
        if self.central_side.connected:
            self.link.drop()


class _SimCharacteristic:
    def __init__(self, link, uuid, properties, initial):
        self.link = link
        self.uuid = uuid
        self.properties = properties
        self.value = bytes(initial or b"")
        self._written = []

    def write(self, data):  # the server's own value (what a read returns)
        self.value = bytes(data)

    def notify(self, connection, data):
        self.link.push(self.uuid, "notify", data)

    async def indicate(self, connection, data, timeout_ms=1_000):
        self.link.push(self.uuid, "indicate", data)
        await asyncio.sleep(0)

    async def written(self, timeout_ms=None):
        await _until(self.link.clock, lambda: self._written, timeout_ms)
        return self.link.server_connection, self._written.pop(0)


class SimLink(FakeSensor):
    """The simulator board as the central sees it: a FakeSensor whose values, writes and
    notifications are the simulator's own characteristics."""

    def __init__(self, peripheral, central, addr, clock):
        super().__init__(central, addr, clock, has_display=True, passkey=482_913)
        self.peripheral = peripheral
        self.in_range = False  # until it advertises
        self.has_cgm_service = False
        self.gatt = {}
        self.server = {}  # uuid -> _SimCharacteristic
        self.server_connection = None

    def serve(self, service):
        if service.uuid.value == cgms.SERVICE_UUID:
            self.has_cgm_service = True
        for char in service.characteristics:
            self.server[char.uuid] = char
            self.gatt[char.uuid] = char.properties

    def accept(self, device):
        connection = super().accept(device)
        self.server_connection = _SimConnection(self, connection)
        return connection

    def read(self, uuid):
        return self.server[uuid].value

    def written(self, uuid, data):
        self.server[uuid]._written.append(bytes(data))

    def push(self, uuid, kind, data):
        char = self._chars.get(uuid)
        if char is not None and self.link_up(char):
            char.push(kind, data)

    def peer_confirms(self, passkey):
        """Numeric comparison on the simulator's side: its IRQ handler answers."""
        core = self.peripheral.core
        if not hasattr(core.ble, "gap_pair"):
            return False
        answers = core.ble.passkey_answers
        asked = len(answers)
        core.irq(31, (1, 4, passkey))
        return len(answers) > asked and bool(answers[-1][2])


def load_simulator(peripheral, clock):
    """tools/cgm_peripheral/main.py as the board runs it, on the host: its aioble is the
    fake peripheral, its asyncio the host's with sleep_ms on the test's clock. Returns the
    module (its CgmPeripheral, enable_bonding, ...); nothing starts (main() is not run)."""
    import importlib.util
    import sys
    import types

    from tools import ROOT
    from tools.cgm_peripheral import cgm_sensor

    shim = types.ModuleType("asyncio")
    shim.__dict__.update({k: v for k, v in vars(asyncio).items() if not k.startswith("__")})

    async def sleep_ms(ms):
        end = clock.now_ms() + ms
        await asyncio.sleep(0)
        while clock.now_ms() < end:
            await asyncio.sleep(0)

    shim.sleep_ms = sleep_ms
    fakes = {"aioble": peripheral, "asyncio": shim, "cgm_sensor": cgm_sensor,
             "bluetooth": types.SimpleNamespace(UUID=UUID),
             "micropython": types.SimpleNamespace(const=lambda value: value)}
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        path = "%s/tools/cgm_peripheral/main.py" % ROOT
        spec = importlib.util.spec_from_file_location("cgm_simulator_main", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, old in saved.items():
            if old is None:
                del sys.modules[name]
            else:
                sys.modules[name] = old
    return module
