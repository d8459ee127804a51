# The fake BLE CGM link in the device VM (MicroPython): tools/fake_ble.py's aioble as
# `aioble` and a `bluetooth` with its UUID, installed at each boot of a story that uses
# the CGM. The radio's sensors are the world outside the pump: they stay in range (and
# keep their records) across the pump's power cuts; the pump's radio restarts empty and
# reloads its bond keys from /data as aioble.security does (fake_ble.FakeAioble).
#
# Steps (story_vm.do):
#   {"cgm_sensor": "c0ffee000001", "display": true}  a sensor comes in range (display:
#                                    it can show a number, so numeric comparison);
#                                    "clone": true, another device with that address
#                                    (and the same data) but not its keys; the same
#                                    step without "clone" brings the real one back
#   {"cgm_measure": 140, "sensor": "c0ffee000001"}   it measures (the next offset, 5 min
#                                    after its last) and notifies when connected
#   {"cgm_away": "c0ffee000001"}     it drops the link and goes out of range
#   {"cgm_sim": {"interval_s": 60}}  the CGM simulator board: tools/cgm_peripheral/main.py
#                                    (its own firmware, as its board runs it) on a fake
#                                    aioble GATT server on the same air: one VM, two
#                                    radios; the dict is its cgm_config.json
#   {"cgm_sim_serial": "bg 250"}     a line typed on the simulator's console
#   {"cgm_sim_button": "down"}       press and release one of its buttons

import asyncio
import sys

import fake_ble
import vtime


class _Clock:
    def now_ms(self):
        return vtime.now_us() // 1000


class _Bluetooth:
    UUID = fake_ble.UUID


_state = {"radio": None, "sensors": {}, "originals": {}}


def _radio():
    """The air and the pump's radio: NimBLE (ESP32) pairs, the Pico W's BTstack cannot."""
    if _state["radio"] is None:
        from board import BOARD as spec

        _state["radio"] = fake_ble.FakeAioble(_Clock(), can_pair=spec["mcu"] == "esp32")
    return _state["radio"]


def boot():
    """Before main.py runs: the pump's radio (a fresh one at every boot)."""
    radio = _radio()
    radio.power_on()
    sys.modules["aioble"] = radio
    sys.modules["bluetooth"] = _Bluetooth


def do(step, run_ms):
    if any(key.startswith("cgm_sim") for key in step):
        sim_do(step, run_ms)
        return
    radio = _radio()
    sensors = _state["sensors"]
    if "cgm_sensor" in step:
        addr = step["cgm_sensor"]
        originals = _state["originals"]
        if step.get("clone"):  # the real one stays out of range meanwhile
            if addr in sensors:
                originals[addr] = sensors[addr]
                sensors[addr].in_range = False
            sensors[addr] = fake_ble.FakeSensor(radio, _addr(addr), radio.clock,
                                                has_display=bool(step.get("display")))
        elif addr in originals or addr in sensors:
            if addr in originals:
                sensors[addr].in_range = False
                sensors[addr] = originals.pop(addr)
            sensors[addr].in_range = True
        else:
            sensors[addr] = fake_ble.FakeSensor(radio, _addr(addr), radio.clock,
                                                has_display=bool(step.get("display")))
    elif "cgm_measure" in step:
        sensor = sensors[step.get("sensor") or next(iter(sensors))]
        offset = sensor.current_offset() + 5 if sensor.records else 0
        sensor.measure(step.get("offset", offset), step["cgm_measure"])
    elif "cgm_away" in step:
        sensor = sensors[step["cgm_away"]]
        sensor.drop()
        sensor.in_range = False


SIM_ADDR = "5e50c0de0001"
_sim = {}


def _simulator(config):
    """The simulator's main.py imported with the fake GATT server as its aioble (the
    pump's aioble is put back after), its bonding enabled, its tasks started."""
    from cgm_sensor import SensorModel, load_config

    radio = _radio()
    peripheral = fake_ble.FakePeripheralAioble(radio, _addr(SIM_ADDR), radio.clock,
                                               can_pair=radio.can_pair)
    pump_side = sys.modules.get("aioble")
    sys.modules["aioble"] = peripheral
    sys.modules["bluetooth"] = _Bluetooth
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


def sim_do(step, run_ms):
    if "cgm_sim" in step:
        _simulator(step["cgm_sim"])
    elif "cgm_sim_serial" in step:
        _sim["sim"].command(step["cgm_sim_serial"])
    elif "cgm_sim_button" in step:
        pin = _sim["pins"][step["cgm_sim_button"]]
        pin.level = 0
        run_ms(100)
        pin.level = 1


def _addr(text):
    import binascii

    return binascii.unhexlify(text)
