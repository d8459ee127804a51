"""The BLE CGM client, driven through a fake aioble: connects, drops, bursts, garbage,
pairing and the only-this-sensor rule. The same client code runs on the board."""

import asyncio
import importlib
import sys

import pytest

from basalt.ble import cgm_client
from basalt.ble.cgm_client import CgmClient, PeerFile
from basalt.core import cgms, cgms_link, cgms_sensor
from basalt.core.readings import ReadingStore
from tools.fake_ble import UUID, FakeAioble, FakeSensor, StepClock
from tools.fake_storage import FakeStorage

MIN = 60_000
SENSOR_A = bytes.fromhex("c0ffee000001")
SENSOR_B = bytes.fromhex("c0ffee000002")


def rig(can_pair=False, crc=True, address=None, has_display=False, peers=None):
    clock = StepClock(1_000_000)
    radio = FakeAioble(clock, can_pair=can_pair)
    sensor = FakeSensor(radio, SENSOR_A, clock, crc=crc, has_display=has_display)
    store = ReadingStore(clock.now_ms())
    client = CgmClient(store, clock, radio, UUID, address=address, peers=peers)
    return clock, radio, sensor, store, client


async def answer_prompts(client, answer, seen):
    """The user at the pairing screen: every number shown is answered `answer`."""
    while True:
        if client.prompt is not None:
            seen.append(client.prompt)
            client.answer(client.clock.now_ms(), answer)
        await asyncio.sleep(0)


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
    assert client.status() == "CGM unauthenticated" and client.security == "unauthenticated"


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
    assert sensor.racp_requests[0] == cgms_link.racp_report_since(295 - 30)
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
    assert cgms_link.racp_report_since(6) in sensor.racp_requests
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
    assert sensor.racp_requests[-1] == cgms_link.racp_report_since(1)
    assert store.backfill_from() is None


def test_garbage_is_counted_and_never_becomes_a_reading():
    clock, radio, sensor, store, client = rig()

    async def scenario():
        task = await start(client)
        await live(clock, sensor, 0, 100)
        good = bytearray(cgms_sensor.encode_record(0x0078, 5, crc=True))
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
        sensor.session = cgms_link.SessionStart(2026, 11, 21, 8, 0, 0, 4, 0)
        sensor.records = []
        await until(lambda: client.counts["connects"] == 2 and client.state == "connected")
        await stop(task)

    run(scenario)
    assert store.latest == -1
    assert any(kind == "cgm_session" for kind, _ in client.pop_events())


def stranger_then_sensor(client, clock, stranger, sensor):
    """Both send a reading (300 from the stranger, 100 from the sensor) once connected."""

    async def scenario():
        task = await start(client)
        stranger.measure(0, 300)
        await live(clock, sensor, 0, 100)
        await stop(task)

    run(scenario)


def test_only_the_configured_sensor_is_used():
    clock, radio, sensor, store, client = rig()
    other = FakeSensor(radio, SENSOR_B, clock)
    radio.sensors.reverse()  # the stranger is found first
    client = CgmClient(store, clock, radio, UUID, address="c0:ff:ee:00:00:01", addr_type=None)
    stranger_then_sensor(client, clock, other, sensor)
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


def pair_and_read(client, clock, sensor, offset, mg_dl, asked):
    """The user says yes to every number; one live reading once connected."""

    async def scenario():
        user = asyncio.create_task(answer_prompts(client, "yes", asked))
        task = await start(client)
        await live(clock, sensor, offset, mg_dl)
        await stop(task)
        user.cancel()

    run(scenario)


def test_esp32_bonds_with_secure_connections_and_mitm():
    answers = []
    clock, radio, sensor, store, client = rig(can_pair=True, has_display=True)
    pair_and_read(client, clock, sensor, 0, 100, answers)
    assert sensor.pair_calls == [{"bond": True, "le_secure": True, "mitm": True, "io": 1}]
    assert answers == [123456] and radio.core.ble.passkey_answers == [(1, 4, 1)]
    assert client.security == "bonded" and client.status() == "CGM bonded"
    assert radio.core.ble.keys == {SENSOR_A: sensor.bond_key}  # the bond is stored
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
    assert client.security == "refused" and store.latest == -1
    assert client.counts["records"] == 0


def test_rejected_numeric_comparison_gives_no_readings():
    clock, radio, sensor, store, client = rig(can_pair=True, has_display=True)

    async def scenario():
        user = asyncio.create_task(answer_prompts(client, "no", []))
        task = asyncio.create_task(client.run())
        await until(lambda: client.counts["drops"] >= 2)
        await stop(task)
        user.cancel()

    run(scenario)
    assert radio.core.ble.passkey_answers[0] == (1, 4, 0)
    assert store.latest == -1 and radio.core.ble.keys == {}
    states = [d.get("detail") for k, d in client.pop_events() if k == "cgm_pair"]
    assert "user said no" in states


def test_no_answer_in_time_is_a_refusal_and_delivery_never_waits():
    clock, radio, sensor, store, client = rig(can_pair=True, has_display=True)

    async def scenario():
        task = asyncio.create_task(client.run())
        await until(lambda: client.prompt == 123456)
        for _ in range(10):  # other tasks run while the number is on screen
            await turns(5)
        assert client.prompt == 123456
        clock.advance(cgm_client.PROMPT_MS)
        await until(lambda: radio.core.ble.passkey_answers)
        await stop(task)

    run(scenario)
    assert radio.core.ble.passkey_answers[0] == (1, 4, 0) and client.prompt is None
    assert store.latest == -1
    details = [d.get("detail") for k, d in client.pop_events() if k == "cgm_pair"]
    assert "no answer in time" in details


def test_an_answer_with_no_prompt_is_refused():
    from basalt.core.errors import NotAllowedNow

    client = rig(can_pair=True)[4]
    with pytest.raises(NotAllowedNow, match="no pairing is waiting"):
        client.answer(0, "yes")


def bonded_rig(storage):
    """A pump bonded to SENSOR_A (the user said yes), its peer kept in storage."""
    clock, radio, sensor, store, client = rig(can_pair=True, has_display=True,
                                              peers=PeerFile(storage))
    pair_and_read(client, clock, sensor, 0, 100, [])
    assert client.bonded and client.security == "bonded"
    return clock, radio, sensor, store, client


def test_after_bonding_a_second_unbonded_sensor_with_the_same_data_is_refused():
    storage = FakeStorage()
    clock, radio, sensor, store, client = bonded_rig(storage)
    stranger = FakeSensor(radio, SENSOR_B, clock, has_display=True)  # another address
    clone = FakeSensor(radio, SENSOR_A, clock, has_display=True)  # same address, no keys
    asked = []

    async def scenario():
        user = asyncio.create_task(answer_prompts(client, "yes", asked))
        sensor.in_range = False
        radio.sensors.reverse()  # the clone and the stranger are found first
        task = asyncio.create_task(client.run())
        await until(lambda: clone.pair_calls and radio.core.ble.passkey_answers[-1][2] == 0)
        for other in (stranger, clone):
            other.measure(5, 100)
        await turns(200)
        await stop(task)
        user.cancel()

    run(scenario)
    assert asked == [] and store.latest == 0  # never asked the user; nothing stored
    assert stranger.pair_calls == [] and stranger.connection is None
    assert radio.core.ble.keys == {SENSOR_A: sensor.bond_key}  # the bond is unchanged
    details = [d.get("detail") for k, d in client.pop_events() if k == "cgm_pair"]
    assert "a bonded sensor asked to pair again" in details


def test_the_bond_survives_a_reboot_and_the_bonded_sensor_needs_no_prompt():
    storage = FakeStorage()
    clock, radio, sensor, store, client = bonded_rig(storage)
    stranger = FakeSensor(radio, SENSOR_B, clock, has_display=True)
    radio.sensors.reverse()
    rebooted = CgmClient(ReadingStore(clock.now_ms()), clock, radio, UUID,
                         peers=PeerFile(storage))
    assert rebooted.bonded and rebooted.peer_text() == "c0:ff:ee:00:00:01"

    async def scenario():
        task = await start(rebooted)
        await live(clock, sensor, 5, 110)
        await stop(task)

    run(scenario)
    assert rebooted.prompt is None and len(radio.core.ble.passkey_answers) == 1
    assert rebooted.store.latest == 5 and stranger.connection is None
    assert rebooted.counts["ignored_devices"] >= 1


def test_forget_lets_the_next_sensor_pair():
    storage = FakeStorage()
    clock, radio, sensor, store, client = bonded_rig(storage)
    client.forget_keys = radio.core.ble.keys.clear
    client.forget(clock.now_ms())
    assert not client.bonded and client.peer is None and "cgm_peer.json" not in storage.files
    sensor.in_range = False
    other = FakeSensor(radio, SENSOR_B, clock, has_display=True, passkey=654321)
    asked = []
    pair_and_read(client, clock, other, 5, 120, asked)
    assert asked == [654321] and client.peer == SENSOR_B and client.bonded
    assert radio.core.ble.keys == {SENSOR_B: other.bond_key}


def test_pico_w_keeps_the_first_sensor_across_a_reboot_and_says_unauthenticated():
    storage = FakeStorage()
    clock, radio, sensor, store, client = rig(peers=PeerFile(storage))

    async def scenario():
        task = await start(client)
        await stop(task)

    run(scenario)
    assert client.security == "unauthenticated" and client.status() == "CGM unauthenticated"
    stranger = FakeSensor(radio, SENSOR_B, clock)
    radio.sensors.reverse()
    rebooted = CgmClient(ReadingStore(clock.now_ms()), clock, radio, UUID,
                         peers=PeerFile(storage))
    assert rebooted.peer == SENSOR_A and not rebooted.bonded

    stranger_then_sensor(rebooted, clock, stranger, sensor)
    assert rebooted.store.latest_reading(clock.now_ms()).glucose_milli == 100_000
    assert stranger.connection is None


@pytest.mark.parametrize("text", [b"", b"{", b'{"addr": "zz"}', b'{"addr": "c0:ff", "type": 0, '
                                  b'"bonded": true}', b'[1]'])
def test_a_damaged_peer_file_is_as_none(text):
    storage = FakeStorage()
    storage.files["cgm_peer.json"] = bytearray(text)
    assert PeerFile(storage).load() is None


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
