"""The USB console service's requests (basalt.app.usb_service lists them): imported when
a host tool first talks, so a pump nobody connects to never loads them."""

import json
from binascii import b2a_base64

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_CHUNK = const(768)  # file bytes per read answer: 1 KB of base64


def answer(service, text):
    """The answer line (JSON) to a request's JSON text; a bad request is answered with
    what was wrong and changes nothing."""
    ident = None
    try:
        req = json.loads(text)
        ident = req.get("id")
        ask = req.get("q")
        handler = _HANDLERS.get(ask)
        if handler is None:
            raise ValueError("q: %r is not one of %s" % (ask, ", ".join(sorted(_HANDLERS))))
        reply = handler(service, req)
        reply["ok"] = True
    except Exception as error:  # noqa: BLE001 - answered, never ends the service
        reply = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
    reply["id"] = ident
    return json.dumps(reply)


def _status(service, req):
    app = service.app
    engine = app.engine
    keeper = app.keeper
    waiting = keeper is not None and keeper.awaiting_ack
    detector = app.occlusion.detector  # the bench rig times and weighs occlusions
    from basalt import firmware_version

    return {"fw": firmware_version(), "boot": keeper.boot if keeper else 0,
            "ms": engine.last_ms(), "stop": engine.stop_reason, "ack": waiting,
            "delivering": engine.stop_reason is None and not waiting,
            "bolus_running": engine.bolus_running(), "rate_mu_h": engine.basal_rate_mu_h(),
            "basal": engine.basal_steps, "bolus": engine.bolus_steps,
            "moved": app.motion.moved_steps, "busy": app.motion.busy(),
            "force_mn": detector.filtered, "occlusion": detector.alarm,
            "notes": keeper.boot_notes if waiting else []}


def _files(service, req):
    import os

    folder = service.folder
    return {"files": [[name, os.stat(folder + "/" + name)[6]]
                      for name in sorted(os.listdir(folder))]}


def _read(service, req):
    name, at = req.get("file"), req.get("at", 0)
    if not isinstance(name, str) or not name or "/" in name or name[0] == ".":
        raise ValueError("file: %r is not a file name in %s" % (name, service.folder))
    if not isinstance(at, int) or at < 0:
        raise ValueError("at: %r is not a byte offset (0 or more)" % (at,))
    with open(service.folder + "/" + name, "rb") as handle:
        handle.seek(at)
        data = handle.read(_CHUNK)
    return {"at": at, "n": len(data), "data": b2a_base64(data).decode().strip()}


def _command(service, req):
    result = service.app.command(req.get("cmd"))  # the command table and its guards
    return {"result": result if result is None or isinstance(result, int) else str(result)}


def _maintenance(service, req):
    if service._reset is None:
        raise ValueError("maintenance: this pump cannot reset itself")
    if service.app.engine.stop_reason is None:
        raise ValueError("maintenance: the pump is delivering: suspend it first")
    with open(service.flag, "w") as handle:
        handle.write("1")
    service._maintenance_asked = True  # reset once the answer is out
    return {}


_HANDLERS = {"status": _status, "files": _files, "read": _read, "cmd": _command,
             "maintenance": _maintenance}
