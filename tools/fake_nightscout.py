"""A Nightscout API v1 stand-in on loopback for the upload tests: it checks the
api-secret header and every posted object against Nightscout's field rules (as
cgm-remote-monitor's lib/server and careportal define them; docs/references.md), and
stores them the way Nightscout does: entries replaced by time and type, treatments by
identifier (else created_at and eventType), devicestatus always inserted."""

import datetime
import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIRECTIONS = {"DoubleUp", "SingleUp", "FortyFiveUp", "Flat", "FortyFiveDown", "SingleDown",
              "DoubleDown", "NOT COMPUTABLE", "RATE OUT OF RANGE", "NONE"}
EVENT_TYPES = {"BG Check", "Snack Bolus", "Meal Bolus", "Correction Bolus", "Carb Correction",
               "Combo Bolus", "Announcement", "Note", "Question", "Exercise", "Site Change",
               "Sensor Start", "Sensor Change", "Sensor Stop", "Pump Battery Change",
               "Insulin Change", "Temp Basal", "Profile Switch", "D.A.D. Alert"}
TB_TYPES = {"NORMAL", "EMULATED_PUMP_SUSPEND", "PUMP_SUSPEND", "SUPERBOLUS"}


def parse_iso(text, field):
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError("%s %r: an ISO 8601 UTC time" % (field, text))
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


def number(obj, field, low=None, required=True):
    value = obj.get(field)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("%s %r: a number" % (field, value))
    if low is not None and value < low:
        raise ValueError("%s %r: at least %s" % (field, value, low))
    return value


def check_entry(entry):
    if entry.get("type") != "sgv" or not isinstance(entry.get("sgv"), int):
        raise ValueError("entry: type sgv with an integer sgv (mg/dL), got %r" % entry)
    if parse_iso(entry.get("dateString"), "dateString") != entry.get("date"):
        raise ValueError("entry: date and dateString disagree: %r" % entry)
    if entry.get("direction") not in DIRECTIONS or not isinstance(entry.get("device"), str):
        raise ValueError("entry: direction %r / device %r" % (entry.get("direction"),
                                                              entry.get("device")))


def check_treatment(t):
    event = t.get("eventType")
    if event not in EVENT_TYPES:
        raise ValueError("eventType %r: not one of Nightscout's" % event)
    at = parse_iso(t.get("created_at"), "created_at")
    if "date" in t and t["date"] != at:
        raise ValueError("date %r and created_at %r disagree" % (t["date"], t["created_at"]))
    if not isinstance(t.get("identifier"), str):
        raise ValueError("identifier: a string that makes a re-upload replace")
    for field in ("insulin", "carbs", "glucose"):
        number(t, field, low=0, required=False)
    if event in ("Meal Bolus", "Correction Bolus", "Snack Bolus"):
        if not (t.get("insulin") or t.get("carbs")):
            raise ValueError("%s without insulin or carbs" % event)
    if event == "Carb Correction" and not t.get("carbs"):
        raise ValueError("Carb Correction without carbs")
    if event == "Combo Bolus":
        total = number(t, "enteredinsulin", low=0)
        duration = number(t, "duration", low=0)
        split_now, split_ext = number(t, "splitNow", 0), number(t, "splitExt", 0)
        if split_now + split_ext != 100 or duration <= 0:
            raise ValueError("Combo Bolus: splitNow + splitExt = 100 and a duration")
        relative = total * split_ext / 100 / duration * 60
        if abs(number(t, "relative", 0) - relative) > 1e-5 + relative * 1e-5:
            raise ValueError("Combo Bolus relative %r: enteredinsulin x splitExt / 100 / "
                             "duration x 60 = %r" % (t["relative"], relative))
        if abs((t.get("insulin") or 0) - total * split_now / 100) > 1e-4:
            raise ValueError("Combo Bolus insulin: enteredinsulin x splitNow / 100")
    if event == "Temp Basal":
        number(t, "duration", low=0)
        if t.get("absolute") is None and t.get("percent") is None:
            raise ValueError("Temp Basal: absolute or percent")
        number(t, "absolute", low=0, required=False)
        number(t, "percent", low=-100, required=False)
        if t.get("type", "NORMAL") not in TB_TYPES:
            raise ValueError("Temp Basal type %r" % t.get("type"))
    if event == "BG Check":
        number(t, "glucose", low=1)
        if t.get("glucoseType") not in ("Finger", "Sensor", "Manual") or \
                t.get("units") not in ("mg/dl", "mmol"):
            raise ValueError("BG Check: glucoseType and units")


def check_status(status):
    if not isinstance(status.get("device"), str):
        raise ValueError("devicestatus: a device")
    parse_iso(status.get("created_at"), "created_at")
    openaps = status.get("openaps")
    suggested = (openaps or {}).get("suggested")
    if not isinstance(suggested, dict):
        raise ValueError("devicestatus: openaps.suggested")
    parse_iso(suggested.get("timestamp"), "openaps.suggested.timestamp")
    for field in ("bg", "eventualBG", "COB", "IOB"):
        number(suggested, field, required=False)
    if not isinstance(suggested.get("reason", ""), str):
        raise ValueError("openaps.suggested.reason: text")
    if "iob" in openaps:
        number(openaps["iob"], "iob")
        parse_iso(openaps["iob"].get("timestamp"), "openaps.iob.timestamp")


CHECKS = {"entries": check_entry, "treatments": check_treatment,
          "devicestatus": check_status}


class FakeNightscout:
    """start() serves on 127.0.0.1 in a thread; url, stored, requests, rejected."""

    def __init__(self, secret):
        self.secret_sha1 = hashlib.sha1(secret.encode()).hexdigest()
        self.stored = {"entries": [], "treatments": [], "devicestatus": []}
        self.requests = []  # (method, path, number of objects)
        self.rejected = []  # (path, message)
        self.server = None

    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.handle(self, "GET")

            def do_POST(self):
                owner.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request, method):
        url = urllib.parse.urlsplit(request.path)
        name = url.path.replace("/api/v1/", "").rstrip("/").replace(".json", "")
        if request.headers.get("api-secret") != self.secret_sha1:
            return self.reply(request, 401, {"message": "Unauthorized"})
        if name not in self.stored:
            return self.reply(request, 404, {"message": "no such collection %r" % name})
        if method == "GET":
            self.requests.append((method, name, 0))
            return self.reply(request, 200, self.find(name, urllib.parse.parse_qs(url.query)))
        body = json.loads(request.rfile.read(int(request.headers["Content-Length"])))
        self.requests.append((method, name, len(body) if isinstance(body, list) else 1))
        try:
            if not isinstance(body, list):
                raise ValueError("the body must be a JSON array of %s" % name)
            for obj in body:
                CHECKS[name](obj)
        except (ValueError, TypeError, AttributeError) as error:
            self.rejected.append((name, str(error)))
            return self.reply(request, 400, {"message": str(error)})
        for obj in body:
            self.store(name, obj)
        return self.reply(request, 200, body)

    def store(self, name, obj):
        items = self.stored[name]
        if name == "entries":
            same = [i for i, o in enumerate(items)
                    if (o["dateString"], o["type"]) == (obj["dateString"], obj["type"])]
        elif name == "treatments":
            same = [i for i, o in enumerate(items) if o.get("identifier") == obj["identifier"]]
        else:
            same = []  # Nightscout inserts every devicestatus
        if same:
            items[same[0]] = obj
        else:
            items.append(obj)

    def find(self, name, query):
        found = list(self.stored[name])
        for key, values in query.items():
            if not key.startswith("find["):
                continue
            field, _, op = key[5:].rstrip("]").partition("][")  # find[f][$op] or find[f]
            value = values[0]

            def get(o, field=field):
                return o.get(field)

            if name == "entries" and field == "date":
                value = int(value)
            if op == "$gte":
                found = [o for o in found if get(o) is not None and get(o) >= value]
            elif op == "$lte":
                found = [o for o in found if get(o) is not None and get(o) <= value]
            else:
                found = [o for o in found if str(get(o)) == value]
        count = int(query.get("count", ["10"])[0])
        return found[:count]

    @staticmethod
    def reply(request, code, body):
        data = json.dumps(body).encode()
        request.send_response(code)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
