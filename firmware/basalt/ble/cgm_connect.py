"""Making a CGM link (basalt.ble.cgm_client.CgmClient's session): find the sensor,
connect, pair or pin it, discover the CGM service and read what the sensor says of
itself, subscribe. Loaded for each connection and forgotten once the link is up (or
failed): a running pump connects seldom, and its readings never pass through here."""

from basalt.ble.cgm_client import GATT_MS, CgmLinkError, hex_addr
from basalt.core import cgms, cgms_link

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_SCAN_MS = const(10_000)
_CONNECT_MS = const(10_000)


async def link(client):
    """(connection, characteristics by name) of the sensor, subscribed; None when no
    sensor was found. A link that fails after connecting is disconnected."""
    device = await _find(client)
    if device is None:
        return None
    client._set_state("connecting")
    connection = await device.connect(timeout_ms=_CONNECT_MS)
    client.counts["connects"] += 1
    try:
        await _secure(client, connection)
        chars = await _discover(client, connection)
        await _read_sensor(client, chars)
        await chars["measurement"].subscribe(notify=True)
        if chars["racp"] is not None:
            await chars["racp"].subscribe(notify=False, indicate=True)
    except BaseException:  # noqa: B036 - a cancelled task disconnects too
        if connection.is_connected():
            await connection.disconnect()
        raise
    return connection, chars


async def _find(client):
    if client.peer is not None and client._addr_type is not None:
        return client._ble_mod.Device(client._addr_type, client.peer)
    client._set_state("scanning")
    want = client._uuid(cgms.SERVICE_UUID)
    async with client._ble_mod.scan(_SCAN_MS, 30_000, 30_000, True) as scanner:
        async for result in scanner:
            if want not in result.services():
                continue
            if client.peer is not None and bytes(result.device.addr) != client.peer:
                client.counts["ignored_devices"] += 1
                continue
            return result.device
    return None


async def _secure(client, connection):
    if not client.can_pair:
        client.security = "unauthenticated"
    else:
        from basalt.ble.cgm_pairing import pair

        await pair(client, connection)
    _pin(client, connection)


def _pin(client, connection):
    """From now on only this sensor: the configured one, or the first one found; kept
    in /data so a reboot does not take another."""
    addr = bytes(connection.device.addr)
    if client.peer is None:
        client.peer = addr
        client._addr_type = None  # found by scan: keep scanning, match the address
    elif addr != client.peer:
        raise CgmLinkError("connected to %s, not the paired sensor" % hex_addr(addr))
    kept = (addr, client._addr_type, client.bonded)
    if client.peers is not None and client.peers.load() != kept:
        client.peers.save(*kept)


async def _discover(client, connection):
    service = await connection.service(client._uuid(cgms.SERVICE_UUID), timeout_ms=GATT_MS)
    if service is None:
        raise CgmLinkError("no CGM service (0x181F) on the device")
    chars = {}
    for name, uuid, needed in (("measurement", cgms.MEASUREMENT_UUID, True),
                               ("feature", cgms.FEATURE_UUID, True),
                               ("status", cgms.STATUS_UUID, False),
                               ("session_start", cgms.SESSION_START_UUID, False),
                               ("racp", cgms.RACP_UUID, False)):
        found = await service.characteristic(client._uuid(uuid), timeout_ms=GATT_MS)
        if found is None and needed:
            raise CgmLinkError("the CGM service has no %s characteristic" % name)
        chars[name] = found
    return chars


async def _read_sensor(client, chars):
    client.feature = cgms_link.decode_feature(await chars["feature"].read(timeout_ms=GATT_MS))
    client.crc = client.feature.e2e_crc
    if chars["session_start"] is not None:
        start = cgms_link.decode_session_start(
            await chars["session_start"].read(timeout_ms=GATT_MS), client.crc)
        key = start.key()
        if client.session_key is not None and key != client.session_key:
            client.store.new_session(client.clock.now_ms())
            client._event("cgm_session", state="new session")
        client.session_key = key
    client._current_offset = None
    if chars["status"] is not None:
        offset, status = cgms_link.decode_status(await chars["status"].read(timeout_ms=GATT_MS),
                                            client.crc)
        client._current_offset = offset
        client.store.sync(client.clock.now_ms(), offset)
        client.sensor_status = status
