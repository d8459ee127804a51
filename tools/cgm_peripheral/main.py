"""CGM simulator board: a Bluetooth CGMS (0x181F) sensor on an ESP32 or a Pico W.

Copy to the board (see README "CGM over Bluetooth"): this file as main.py, cgm_sensor.py,
and basalt/__init__.py, basalt/core/{__init__,errors,cgms,cgms_link,cgms_sensor,cgms_texts}.py;
install aioble with
`mpremote mip install aioble`. Optional /cgm_config.json overrides cgm_sensor.DEFAULTS.

Serves CGM Measurement (notify), Feature, Status, Session Start Time, Session Run Time
(read) and the RACP (write + indicate). Bonds with LE Secure Connections where the port
can pair (ESP32): numeric comparison, the number is printed here and accepted, so the
pump's user confirms it against this console.

The console (serial) takes commands that change the trace the pump sees: `bg 60` (hold
60 mg/dL), `up` / `down` (shift by 20 mg/dL), `model` (back to the configured trace),
`off 5` (radio off for 5 records: they are kept, and the pump back-fills them with the
RACP when it reconnects), `status`. Buttons on the config's `button_up` and
`button_down` pins (to ground, pulled up) do `up` and `down`.
"""

import asyncio
import json
import sys

import aioble
import bluetooth
from cgm_sensor import SensorModel, load_config
from micropython import const

from basalt.core import cgms

_ADV_INTERVAL_US = const(250_000)
_APPEARANCE_CGM = const(0x0D40)  # Continuous Glucose Monitor (generic)
_IRQ_PASSKEY_ACTION = const(31)
_PASSKEY_NUMCMP = const(4)
_IO_DISPLAY_YESNO = const(1)


def read_config():
    try:
        with open("/cgm_config.json") as f:
            return load_config(json.load(f))
    except OSError:
        return load_config({})


class CgmPeripheral:
    def __init__(self, model):
        self.model = model
        self.connection = None
        uuid = bluetooth.UUID
        self.service = aioble.Service(uuid(cgms.SERVICE_UUID))
        self.measurement = aioble.Characteristic(self.service, uuid(cgms.MEASUREMENT_UUID),
                                                 notify=True)
        aioble.Characteristic(self.service, uuid(cgms.FEATURE_UUID), read=True,
                              initial=model.feature())
        self.status = aioble.Characteristic(self.service, uuid(cgms.STATUS_UUID), read=True,
                                            initial=model.status())
        aioble.Characteristic(self.service, uuid(cgms.SESSION_START_UUID), read=True,
                              initial=model.session_start())
        aioble.Characteristic(self.service, uuid(cgms.SESSION_RUN_UUID), read=True,
                              initial=model.session_run())
        self.racp = aioble.Characteristic(self.service, uuid(cgms.RACP_UUID), write=True,
                                          indicate=True, capture=True)
        aioble.register_services(self.service)

    async def advertise(self):
        while True:
            while self.model.off_records:
                await asyncio.sleep_ms(100)
            connection = await aioble.advertise(
                _ADV_INTERVAL_US, name=self.model.config["name"],
                services=[bluetooth.UUID(cgms.SERVICE_UUID)], appearance=_APPEARANCE_CGM)
            print("connected:", connection.device)
            self.connection = connection
            await connection.disconnected(timeout_ms=None)
            self.connection = None
            print("disconnected")

    async def measure(self):
        interval_ms = self.model.config["interval_s"] * 1000
        while True:
            record = self.model.next_record()
            self.status.write(self.model.status())
            if self.model.off_records:
                self.model.off_records -= 1
                if self.connection is not None:
                    await self.connection.disconnect()
            else:
                self._notify(record)
            print("offset", self.model.offset(), "record", record.hex())
            await asyncio.sleep_ms(interval_ms)

    async def answer_racp(self):
        while True:
            connection, request = await self.racp.written()
            for kind, data in self.model.racp(bytes(request)):
                if kind == "notify":
                    self._notify(data)
                    await asyncio.sleep_ms(20)  # let the radio drain; the client has one slot
                elif connection.is_connected():
                    await self.racp.indicate(connection, data, timeout_ms=2_000)

    def command(self, line):
        print(self.model.command(line))

    async def serial(self, stream):
        """Console commands, one per line (stream: an asyncio.StreamReader)."""
        while True:
            line = await stream.readline()
            if line:
                self.command(line.decode() if isinstance(line, bytes) else line)
            else:
                await asyncio.sleep_ms(100)

    async def buttons(self, pins):
        """Pressed buttons (pins pulled up, pressed = 0), polled: (pin, command) pairs."""
        last = [1] * len(pins)
        while True:
            for i, (pin, word) in enumerate(pins):
                level = pin.value()
                if level == 0 and last[i] == 1:
                    self.command(word)
                last[i] = level
            await asyncio.sleep_ms(20)

    def _notify(self, data):
        if self.connection is not None and self.connection.is_connected():
            self.measurement.notify(self.connection, data)


def enable_bonding():
    """LE Secure Connections + MITM where the port can pair; False where it cannot."""
    ble = aioble.core.ble
    if not hasattr(ble, "gap_pair"):
        print("this port cannot pair (no BLE.gap_pair): the link is not encrypted")
        return False
    from aioble import security

    security.load_secrets("/cgm_sim_bond.json")
    ble.config(bond=True, le_secure=True, mitm=True, io=_IO_DISPLAY_YESNO)

    def on_passkey(event, data):
        if event == _IRQ_PASSKEY_ACTION:
            conn_handle, action, passkey = data
            print("pairing number: %06d (confirm it on the pump)" % passkey)
            ble.gap_passkey(conn_handle, action, 1 if action == _PASSKEY_NUMCMP else 0)
            return True
        return None

    aioble.core.register_irq_handler(on_passkey, None)
    return True


def button_pins(config):
    from machine import Pin

    return [(Pin(config[key], Pin.IN, Pin.PULL_UP), word)
            for key, word in (("button_up", "up"), ("button_down", "down"))
            if config[key] is not None]


async def main():
    enable_bonding()
    config = read_config()
    sim = CgmPeripheral(SensorModel(config))
    tasks = [sim.advertise(), sim.measure(), sim.answer_racp(),
             sim.serial(asyncio.StreamReader(sys.stdin))]
    pins = button_pins(config)
    if pins:
        tasks.append(sim.buttons(pins))
    await asyncio.gather(*tasks)


if __name__ == "__main__":  # on the board; a host test imports it to drive CgmPeripheral
    asyncio.run(main())
