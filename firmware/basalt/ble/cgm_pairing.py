"""The CGM client's pairing (LE Secure Connections, numeric comparison, bond keys):
imported only where the port can pair (basalt.ble.cgm_client.pairing_supported: NimBLE
on the ESP32), so a board that cannot (the Pico W's BTstack) never loads it."""

import asyncio

from basalt.ble.cgm_client import PAIR_MS, PROMPT_MS, CgmLinkError, hex_addr

_IO_DISPLAY_YESNO = 1
_PASSKEY_ACTION_NUMCMP = 4
_IRQ_PASSKEY_ACTION = 31

BOND_FILE = "/data/cgm_bond.json"


def listen(client, aioble):
    """aioble's IRQ hook: remember a passkey request; a task (answer_passkeys) answers."""

    def irq(event, data):
        if event == _IRQ_PASSKEY_ACTION:
            conn_handle, action, passkey = data
            client._pending_passkey = (conn_handle, action, passkey)
            return True
        return None

    aioble.core.register_irq_handler(irq, None)


async def pair(client, connection):
    """Bond with the sensor (MITM protection) or raise CgmLinkError: the link must come
    up encrypted and authenticated."""
    addr = bytes(connection.device.addr)
    if client.peer is not None and addr != client.peer:
        raise CgmLinkError("connected to %s, not the paired sensor" % hex_addr(addr))
    client._set_state("pairing")
    answering = asyncio.create_task(_answer_passkeys(client))
    try:
        await connection.pair(bond=True, le_secure=True, mitm=True, io=_IO_DISPLAY_YESNO,
                              timeout_ms=PAIR_MS)
    finally:
        answering.cancel()
        client.prompt = client.passkey = None
    if not (connection.encrypted and connection.authenticated):
        client.security = "refused"
        raise CgmLinkError("pairing gave no authenticated link (MITM protection)")
    client.security = "bonded"
    if not client.bonded:
        client.bonded = True
        client._event("cgm_pair", state="bonded", detail=hex_addr(addr))


async def _answer_passkeys(client):
    ble = client._ble_mod.core.ble
    while True:
        pending = client._pending_passkey
        if pending is None:
            await client.clock.sleep_ms(100)
            continue
        client._pending_passkey = None
        conn_handle, action, passkey = pending
        accept = False
        if client.bonded:
            # The bonded sensor has its keys: one asking to pair again is not it (or
            # lost them); only the user's "forget sensor" lets a new pairing happen.
            client._event("cgm_pair", state="refused",
                          detail="a bonded sensor asked to pair again")
        elif action == _PASSKEY_ACTION_NUMCMP:
            accept = await _ask_user(client, passkey)
        ble.gap_passkey(conn_handle, action, 1 if accept else 0)


async def _ask_user(client, passkey):
    """Show the number (prompt) and wait for answer(); no answer in time is a no.
    Polls in its own task: the pump's other tasks never wait for it."""
    client._answer = None
    client.prompt = client.passkey = passkey
    clock = client.clock
    start = clock.now_ms()
    try:
        while client._answer is None and clock.now_ms() - start < PROMPT_MS:
            await clock.sleep_ms(100)
    finally:
        client.prompt = None
    accept = bool(client._answer)
    client._event("cgm_pair", state="confirmed" if accept else "refused",
                  detail="user said yes" if accept else (
                      "user said no" if client._answer is False else "no answer in time"))
    return accept


def load_keys():
    """aioble.security answers the stack's _IRQ_GET_SECRET/_IRQ_SET_SECRET from a dict it
    saves as JSON; its path must be set before the radio is turned on."""
    from aioble import security

    security.load_secrets(BOND_FILE)


def forget_keys():
    """No bond keys at all: the file removed, then aioble's table reloaded (empty)."""
    import os

    try:
        os.remove(BOND_FILE)
    except OSError:
        pass
    load_keys()
