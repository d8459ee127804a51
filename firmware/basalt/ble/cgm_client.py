"""BLE CGM client: reads a Bluetooth CGM Service (0x181F) sensor into a ReadingStore.

Built on micropython-lib aioble (install on the board with
`mpremote mip install aioble-central aioble-client aioble-security`; never vendored).
The client is a GATT client only: it registers no service and no characteristic, so
nothing a remote device writes can reach the pump, let alone command a dose. Readings
go into the store; dosing code only ever reads the store's latest_for_dosing().

    client = CgmClient(store, clock, aioble, bluetooth.UUID)   # or make_cgm_client()
    asyncio.create_task(client.run())     # the app schedules it; nothing starts here

run() forever: find the sensor (the configured address, else a scan for 0x181F, then
only that sensor), connect, pair where the port can, read CGM Feature (is E2E-CRC on?),
Status and Session Start Time, subscribe to Measurement (drained by its own task:
aioble keeps only the newest notification) and the RACP, back-fill gaps with RACP
"records >= offset", and reconnect with exponential backoff after a drop.

Security: where the port has BLE.gap_pair (ESP32/NimBLE) the client bonds with LE
Secure Connections and MITM protection. Numeric comparison: the passkey waits in
`prompt` (the UI shows it) until the user's answer arrives through the command table
(`cgm_pair` -> answer()); no answer within PROMPT_MS is a refusal. The link must come up
encrypted and authenticated or no reading is taken. Once bonded, the sensor's address
is kept in /data (PeerFile; aioble keeps the keys, see make_cgm_client) and only that
sensor is used: a device that is not it is ignored, and one with its address but
without its keys asks to pair again, which is refused without asking the user, until
the user forgets the sensor (`cgm_forget`). Where the port cannot pair (Pico W/BTstack
today), `security` is "unauthenticated" (the screen says so) and readings are accepted
only from the configured or first-found sensor's address, also kept in /data.
"""

import asyncio
import json

from basalt import forget
from basalt.core import cgms
from basalt.core.errors import NotAllowedNow
from basalt.core.events import shift_events

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

GATT_MS = const(3_000)  # a GATT request's time-out (basalt.ble.cgm_connect too)
PAIR_MS = 60_000
PROMPT_MS = 30_000  # the user's time to compare the numbers; silence is a refusal
_RACP_MS = const(30_000)
NOTIFY_MS = 11 * 60_000  # a 5-minute sensor has missed two records: reconnect
BACKOFF_MS = (1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 60_000)


class CgmLinkError(Exception):
    """The sensor is not usable (service missing, not authenticated, ...)."""


def pairing_supported(ble):
    """True where MicroPython's bluetooth.BLE can pair (NimBLE on ESP32)."""
    return hasattr(ble, "gap_pair")


class CgmClient:
    def __init__(self, store, clock, aioble, uuid, address=None, addr_type=0, peers=None):
        self.store = store
        self.clock = clock
        self._ble_mod = aioble
        self._uuid = uuid
        self.configured = None if address is None else _addr_bytes(address)
        self.peer = self.configured
        self._addr_type = self._configured_type = addr_type
        self.forget_keys = None  # drops the stack's bond keys (make_cgm_client sets it)
        self.peers = peers  # a PeerFile: the sensor this pump uses, across reboots
        self.bonded = False  # aioble holds keys for self.peer (the pump paired with it)
        self.can_pair = pairing_supported(aioble.core.ble)
        self.state = "idle"
        self.security = "not paired" if self.can_pair else "unauthenticated"
        self.prompt = None  # the passkey the user is asked to compare, or None
        self._answer = None
        self._renew = False  # forget(): end the link now
        self.feature = None
        self.crc = False
        self.session_key = None
        self.passkey = None
        self.sensor_status = 0
        self._current_offset = None
        self.counts = {"connects": 0, "drops": 0, "notifications": 0, "records": 0,
                       "malformed": 0, "racp": 0, "ignored_devices": 0}
        self._events = []
        self._backfill = asyncio.Event()
        self._pending_passkey = None
        self._last_error = None
        self._load_peer()
        if self.can_pair:  # the pairing code (basalt.ble.cgm_pairing) only where it runs
            from basalt.ble.cgm_pairing import listen

            listen(self, aioble)

    # --- for the app and the screen ------------------------------------------------

    def status(self):
        """One short line (<= 21 characters) for the OLED: "CGM bonded", "CGM
        unauthenticated" (this board cannot pair), "CGM scanning", "CGM waiting 4 s"..."""
        if self.state == "connected":
            return "CGM bonded" if self.security == "bonded" else "CGM unauthenticated"
        return "CGM " + self.state

    def peer_text(self):
        """The sensor in use as "c0:ff:ee:00:00:01", or None before one is chosen."""
        return None if self.peer is None else hex_addr(self.peer)

    # --- the command table's "cgm" part ----------------------------------------------

    def answer(self, now_ms, answer):
        """The user's answer to the pairing prompt ("yes" / "no")."""
        if self.prompt is None:
            raise NotAllowedNow("cgm_pair", "no pairing is waiting for an answer")
        self._answer = answer == "yes"

    def forget(self, now_ms):
        """Forget the sensor in use (and its bond): the next one found must pair, or,
        on a board that cannot pair, is the one used."""
        if self.bonded and self.forget_keys is not None:
            self.forget_keys()
        self.peer = self.configured
        self._addr_type = self._configured_type
        self.bonded = False
        self.security = "not paired" if self.can_pair else "unauthenticated"
        if self.peers is not None:
            self.peers.forget()
        self._event("cgm_pair", state="forgotten")
        self._renew = True
        self._backfill.set()

    def pop_events(self):
        """Link, session and back-fill events since the last call (the app's tick
        journals them)."""
        events = self._events
        if not events:
            return ()  # called every tick: nothing allocated when nothing happened
        self._events = []
        return events

    def rebase(self, shift_ms):
        """The app's clock moved back (its time-outs are the radio's own, relative)."""
        shift_events(self._events, shift_ms)

    # --- the task --------------------------------------------------------------------

    async def run(self):
        failures = 0
        while True:
            before = self.counts["records"]
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a radio error must never end the task
                self._error(_text(error))
            self.counts["drops"] += 1
            failures = 0 if self.counts["records"] > before else failures + 1
            wait = BACKOFF_MS[min(failures, len(BACKOFF_MS) - 1)]
            self._set_state("waiting %d s" % (wait // 1000))
            await self.clock.sleep_ms(wait)

    async def _session(self):
        """One link: made by basalt.ble.cgm_connect (loaded for each connection and
        forgotten once the sensor is linked: a running pump seldom connects), then
        served until it drops."""
        from basalt.ble import cgm_connect

        try:
            linked = await cgm_connect.link(self)
        finally:
            cgm_connect = None  # no reference left: forget() lets gc free the module
            forget(("basalt.ble.cgm_connect", "basalt.core.cgms_link"))
        if linked is None:
            return
        connection, chars = linked
        try:
            self._set_state("connected")
            self._renew = False
            await self._serve(connection, chars)
        finally:
            if connection.is_connected():
                await connection.disconnect()

    def _load_peer(self):
        kept = None if self.peers is None else self.peers.load()
        if kept is None or self.configured is not None and kept[0] != self.configured:
            return  # a configured address wins over one kept from an older setting
        self.peer, self._addr_type, bonded = kept
        self.bonded = bonded and self.can_pair
        if self.bonded:
            self.security = "bonded"

    async def _serve(self, connection, chars):
        """Drain notifications in their own task; here, back-fill gaps with RACP."""
        drain = asyncio.create_task(self._drain(chars["measurement"]))
        try:
            since = self.store.backfill_from(self._current_offset)
            while connection.is_connected() and not _done(drain) and not self._renew:
                if since is not None and chars["racp"] is not None:
                    await self._racp(chars["racp"], since)
                self._backfill.clear()
                since = self.store.backfill_from()
                if since is None:
                    await self._wait_for_gap(drain)
                    since = self.store.backfill_from()
        finally:
            drain.cancel()
        self._set_state("disconnected")

    async def _wait_for_gap(self, drain):
        if not _done(drain):
            await self._backfill.wait()  # set by take() on a gap, or when drain ends

    async def _drain(self, measurement):
        """Its own task, so no notification waits behind a RACP exchange. Ends when the
        link drops or the sensor stays silent for NOTIFY_MS (then the link is renewed)."""
        try:
            while True:
                self.take(await measurement.notified(timeout_ms=NOTIFY_MS))
        except asyncio.TimeoutError:
            self._event("cgm_link", state="silent", detail="no notification in %d min"
                        % (NOTIFY_MS // 60_000))
        except Exception as error:  # disconnected: _serve sees the task is done
            self._event("cgm_link", state="dropped", detail=_text(error))
        finally:
            self._backfill.set()

    def take(self, data):
        """One Measurement notification: every record into the store, or none at all."""
        self.counts["notifications"] += 1
        try:
            records = cgms.decode_measurements(data, self.crc)
        except cgms.CgmFormatError as error:
            self.counts["malformed"] += 1
            self._event("cgm_malformed", detail=_text(error))
            return
        now = self.clock.now_ms()
        for record in records:
            self.store.add(now, record)
        self.counts["records"] += len(records)
        if self.store.backfill_from() is not None:
            self._backfill.set()

    async def _racp(self, racp, since):
        """One back-fill exchange, with the RACP codec (basalt.core.cgms_link) loaded
        for it and forgotten after: gaps are rare."""
        from basalt.core import cgms_link

        self.counts["racp"] += 1
        before = self.counts["records"]
        try:
            await racp.write(cgms_link.racp_report_since(since), True, timeout_ms=GATT_MS)
            try:
                reply = cgms_link.decode_racp_response(
                    await racp.indicated(timeout_ms=_RACP_MS))
            except asyncio.TimeoutError:
                await racp.write(cgms_link.racp_abort(), True, timeout_ms=GATT_MS)
                raise CgmLinkError("no RACP response in %d s" % (_RACP_MS // 1000))
            result = reply.describe()
        finally:
            cgms_link = None
            forget(("basalt.core.cgms_link",))
        self._event("cgm_backfill", since=since, result=result,
                    records=self.counts["records"] - before)
        # Asked once: found or not, these gaps are not asked for again.
        self.store.backfill_done()

    # --- helpers ---------------------------------------------------------------------

    def _set_state(self, state):
        """Only link up and down become events; scanning and waiting would flood the
        journal during a long outage."""
        if state != self.state and state in ("connected", "disconnected"):
            self._event("cgm_link", state=state)
        self.state = state
        if state == "connected":
            self._last_error = None

    def _error(self, text):
        if text != self._last_error:
            self._event("cgm_link", state="error", detail=text)
            self._last_error = text

    def _event(self, kind, **detail):
        detail["at_ms"] = self.clock.now_ms()
        self._events.append((kind, detail))


def _done(task):
    return task.done()


def _addr_bytes(address):
    if isinstance(address, str):
        return bytes(int(part, 16) for part in address.split(":"))
    return bytes(address)


def hex_addr(addr):
    """A BLE address as text, aa:bb:cc:dd:ee:ff."""
    return ":".join("%02x" % b for b in addr)


def _text(error):
    return "%s: %s" % (type(error).__name__, error)


class PeerFile:
    """The sensor this pump uses, kept across reboots: {"addr": "c0:ff:..", "type": 0,
    "bonded": true} in a file of a Storage port (/data). A file that does not read back
    is as none: the next sensor must pair again (or, without pairing, is taken)."""

    def __init__(self, storage, name="cgm_peer.json"):
        self.storage = storage
        self.name = name

    def load(self):
        """(addr bytes, addr type or None, bonded) or None."""
        try:
            obj = json.loads(self.storage.read(self.name) or "null")
            addr = _addr_bytes(obj["addr"])
            kind = obj["type"]
            if len(addr) == 6 and kind in (None, 0, 1) and obj["bonded"] in (True, False):
                return addr, kind, obj["bonded"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def save(self, addr, addr_type, bonded):
        self.storage.replace(self.name, json.dumps(
            {"addr": hex_addr(addr), "type": addr_type, "bonded": bonded}).encode())

    def forget(self):
        self.storage.remove(self.name)


def make_cgm_client(store, clock, address=None, addr_type=0, storage=None):
    """The client on a board: imports aioble and bluetooth only here (not on the host).
    storage: the Storage port of /data, where the sensor in use (and, where the port can
    pair, aioble's bond keys: basalt.ble.cgm_pairing.BOND_FILE) are kept."""
    import aioble
    import bluetooth

    if pairing_supported(aioble.core.ble):
        from basalt.ble.cgm_pairing import load_keys

        load_keys()
    peers = None if storage is None else PeerFile(storage)
    client = CgmClient(store, clock, aioble, bluetooth.UUID, address, addr_type, peers)
    if client.can_pair:
        from basalt.ble.cgm_pairing import forget_keys

        client.forget_keys = forget_keys
    return client
