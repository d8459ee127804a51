"""The BLE CGM client, driven through a fake aioble: connects, drops, bursts, garbage,
pairing and the only-this-sensor rule. The same client code runs on the board."""

import asyncio
import importlib
import sys

import pytest

from basalt.ble import cgm_client
from basalt.ble.cgm_client import CgmClient
from basalt.core import cgms
from basalt.core.readings import ReadingStore
from tools.fake_ble import UUID, FakeAioble, FakeSensor, StepClock

MIN = 60_000
SENSOR_A = bytes.fromhex("c0ffee000001")
SENSOR_B = bytes.fromhex("c0ffee000002")


def rig(can_pair=False, crc=True, address=None, confirm=None, has_display=False):
    clock = StepClock(1_000_000)
    radio = FakeAioble(clock, can_pair=can_pair)
    sensor = FakeSensor(radio, SENSOR_A, clock, crc=crc, has_display=has_display)
    store = ReadingStore(clock.now_ms())
    client = CgmClient(store, clock, radio, UUID, address=address, confirm_passkey=confirm)
    return clock, radio, sensor, store, client


async def turns(n=50):
    for _ in range(n):
        await asyncio.sleep(0)


async def until(condition, limit=5_000):
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


def run(scenario):
    asyncio.run(asyncio.wait_for(scenario(), 30))


async def start(client):
    task = asyncio.create_task(client.run())
    await until(lambda: client.state == "connected")
    return task


async def stop(task):
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def live(clock, sensor, offset, mg_dl, **kw):
    """Sensor time moves on to `offset` and notifies a record."""
    clock.advance(offset * MIN + 1_000_000 - clock.now_ms() + 2_000)
    sensor.measure(offset, mg_dl, **kw)
    await turns()


def test_connects_reads_feature_and_stores_live_readings():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        assert client.crc is True  # Feature bit 12
        for i, value in enumerate((100, 104, 108, 112)):
            await live(clock, sensor, i * 5, value)
        await stop(task)

    run(scenario)
    reading, why = store.latest_for_dosing(clock.now_ms())
    assert why is None and reading.glucose_milli == 112_000 and reading.offset == 15
    assert reading.arrow == "Flat" and reading.trend_milli == 800
    assert store.counts["stored"] == 4 and client.counts["malformed"] == 0
    assert client.status() == "CGM unpaired link" and client.security == "no pairing"


def test_first_connect_fetches_history_with_racp():
    clock, radio, sensor, store, client = rig()
    for offset in range(200, 300, 5):
        sensor.measure(offset, 100 + offset // 5, send=False)
    clock.advance(300 * MIN)

    async def scenario():
        task = await start(client)
        await until(lambda: client.counts["racp"] == 1 and store.latest == 295)
        await turns()
        await stop(task)

    run(scenario)
    assert sensor.racp_requests[0] == cgms.racp_report_since(295 - 30)
    assert store.counts["stored"] == 7  # 265..295
    assert store.latest_for_dosing(clock.now_ms())[0].trend_milli == 200  # 1 mg/dL in 5 min


def test_drop_reconnect_with_backoff_and_backfill_of_the_missed_records():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        await live(clock, sensor, 5, 102)
        sensor.drop()
        sensor.in_range = False
        for offset in (10, 15, 20):  # made while the link is down
            sensor.measure(offset, 100 + offset, send=False)
        await turns(200)
        sensor.in_range = True
        await until(lambda: client.state == "connected")
        await until(lambda: store.latest == 20)
        await turns()
        await stop(task)

    run(scenario)
    assert cgms.racp_report_since(6) in sensor.racp_requests
    assert [store.latest_reading(clock.now_ms()).glucose_milli] == [120_000]
    assert client.counts["drops"] >= 2
    backoff = clock.sleeps
    assert backoff[:3] == [1_000, 2_000, 4_000] and max(backoff) <= 60_000


def test_a_burst_overruns_the_notify_queue_and_racp_fills_the_gap():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        clock.advance(15 * MIN)
        for offset in (5, 10, 15):  # three notifications in one turn: aioble keeps one
            sensor.measure(offset, 100 + offset)
        assert sensor._chars[cgms.MEASUREMENT_UUID].lost == 2
        await until(lambda: store.counts["stored"] == 4)
        await stop(task)

    run(scenario)
    assert sensor.racp_requests[-1] == cgms.racp_report_since(1)
    assert store.backfill_from() is None


def test_garbage_is_counted_and_never_becomes_a_reading():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        good = bytearray(cgms.encode_record(0x0078, 5, crc=True))
        good[2] ^= 0x01  # glucose 121 but the CRC says 120: corrupted in flight
        for garbage in (bytes(good), b"", b"\x06", b"\xff" * 20, bytes(range(16))):
            sensor.notify(garbage)
            await turns(5)
        await turns()
        await stop(task)

    run(scenario)
    assert client.counts["malformed"] == 5 and store.counts["stored"] == 1
    kinds = [kind for kind, _ in client.pop_events()]
    assert kinds.count("cgm_malformed") == 5


def test_new_sensor_session_resets_the_store():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        sensor.drop()
        sensor.session = cgms.SessionStart(2026, 11, 21, 8, 0, 0, 4, 0)
        sensor.records = []
        await until(lambda: client.counts["connects"] == 2 and client.state == "connected")
        await stop(task)

    run(scenario)
    assert store.latest == -1
    assert any(kind == "cgm_session" for kind, _ in client.pop_events())


def test_only_the_configured_sensor_is_used():
    clock, radio, sensor, store, client = rig()
    other = FakeSensor(radio, SENSOR_B, clock)
    radio.sensors.reverse()  # the stranger is found first
    client = CgmClient(store, clock, radio, UUID, address="c0:ff:ee:00:00:01", addr_type=None)

    async def scenario():
        task = await start(client)
        other.measure(0, 300)
        await live(clock, sensor, 0, 100)
        await stop(task)

    run(scenario)
    assert client.counts["ignored_devices"] >= 1
    assert store.latest_reading(clock.now_ms()).glucose_milli == 100_000


def test_first_sensor_found_is_pinned_for_later_reconnects():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        assert client.peer == SENSOR_A
        sensor.drop()
        sensor.in_range = False
        stranger = FakeSensor(radio, SENSOR_B, clock)
        await turns(300)
        assert client.state != "connected" and stranger.connection is None
        await stop(task)

    run(scenario)
    assert client.counts["ignored_devices"] >= 1


def test_esp32_bonds_with_secure_connections_and_mitm():
    answers = []

    async def confirm(passkey):
        answers.append(passkey)
        return True

    clock, radio, sensor, store, client = rig(can_pair=True, confirm=confirm, has_display=True)

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        await stop(task)

    run(scenario)
    assert sensor.pair_calls == [{"bond": True, "le_secure": True, "mitm": True, "io": 1}]
    assert answers == [123456] and radio.core.ble.passkey_answers == [(1, 4, 1)]
    assert client.security == "bonded" and client.status() == "CGM bonded"
    assert store.latest == 0


def test_unauthenticated_link_gives_no_readings():
    clock, radio, sensor, store, client = rig(can_pair=True)  # sensor has no display

    async def scenario():
        task = asyncio.create_task(client.run())
        await until(lambda: client.counts["drops"] >= 2)
        sensor.measure(0, 100)
        await turns()
        await stop(task)

    run(scenario)
    assert client.security == "not authenticated" and store.latest == -1
    assert client.counts["records"] == 0


def test_rejected_numeric_comparison_gives_no_readings():
    async def refuse(passkey):
        return False

    clock, radio, sensor, store, client = rig(can_pair=True, confirm=refuse, has_display=True)

    async def scenario():
        task = asyncio.create_task(client.run())
        await until(lambda: client.counts["drops"] >= 2)
        await stop(task)

    run(scenario)
    assert radio.core.ble.passkey_answers[0] == (1, 4, 0)
    assert store.latest == -1


def test_a_device_without_the_cgm_service_is_refused():
    clock, radio, sensor, store, client = rig()
    sensor.has_cgm_service = False

    async def scenario():
        task = asyncio.create_task(client.run())
        await until(lambda: client.counts["drops"] >= 1)
        await stop(task)

    run(scenario)
    details = [d.get("detail", "") for _, d in client.pop_events()]
    assert any("no CGM service" in d for d in details)


def test_a_silent_sensor_is_reconnected():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        clock.advance(cgm_client.NOTIFY_MS)
        await until(lambda: client.counts["connects"] == 2)
        await stop(task)

    run(scenario)
    assert any(d.get("state") == "silent" for _, d in client.pop_events())


def test_the_client_serves_nothing_a_remote_device_could_write():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        await stop(task)

    run(scenario)
    assert radio.registered_services == []
    source = open(cgm_client.__file__).read()
    for word in ("register_services", "Characteristic(", "advertise(", "bolus", "deliver"):
        assert word not in source


def test_the_module_imports_on_the_host_without_aioble_or_bluetooth():
    assert "aioble" not in sys.modules and "bluetooth" not in sys.modules
    importlib.reload(cgm_client)
    with pytest.raises(ImportError):
        cgm_client.make_cgm_client(None, None)
