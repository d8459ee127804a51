"""Send an export to a Nightscout site through its API v1.

POST /api/v1/entries, /api/v1/treatments and /api/v1/devicestatus each take a JSON
array; the `api-secret` header holds the hex SHA-1 of the site's API_SECRET. A
re-upload adds nothing: before sending, the site is asked what it already holds in
the export's time range (GET with find[...] on the same endpoints) and only what is
missing is sent. Nightscout itself replaces entries of the same time and type and
treatments of the same identifier (or created_at and eventType on servers that predate
identifier), but it inserts every devicestatus it is given, so asking first is what
keeps a second upload from doubling the loop's history.
"""

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request

COLLECTIONS = (  # (name, the time field the site is asked by, key of one object)
    ("entries", "date", lambda o: (o.get("date"), o.get("type"))),
    ("treatments", "created_at", lambda o: o.get("identifier") or (
        o.get("created_at"), o.get("eventType"))),
    ("devicestatus", "created_at", lambda o: (o.get("created_at"), o.get("device"))),
)
BATCH = 100


class UploadError(Exception):
    pass


def secret_header(secret):
    """Nightscout's api-secret header: the SHA-1 of the secret, lower-case hex."""
    return hashlib.sha1(secret.encode("utf-8")).hexdigest()


class Site:
    def __init__(self, url, secret, timeout=30, opener=urllib.request.urlopen):
        if not url.startswith(("http://", "https://")):
            raise UploadError("--url %r: give the site's address, e.g. https://my.site" % url)
        self.base = url.rstrip("/")
        self.headers = {"api-secret": secret_header(secret), "Accept": "application/json",
                        "Content-Type": "application/json"}
        self.timeout = timeout
        self.opener = opener

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=self.headers)
        try:
            with self.opener(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8") or "null"
        except urllib.error.HTTPError as error:
            why = error.read().decode("utf-8", "replace")[:300]
            if error.code == 401:
                why = "the site refused the secret (check --secret: the site's API_SECRET)"
            raise UploadError("%s %s: HTTP %d: %s" % (method, path, error.code, why))
        except (urllib.error.URLError, OSError) as error:
            raise UploadError("%s %s%s: %s" % (method, self.base, path,
                                               getattr(error, "reason", error)))
        return json.loads(text)

    def existing(self, name, field, objects, key):
        """The keys of the objects the site already holds in the objects' time range
        (devicestatus: this device's only, so another uploader's cannot crowd them out
        of the answer)."""
        values = [o[field] for o in objects if o.get(field) is not None]
        query = {"find[%s][$gte]" % field: min(values), "find[%s][$lte]" % field: max(values),
                 "count": len(objects) * 4 + 100}
        devices = {o.get("device") for o in objects}
        if name == "devicestatus" and len(devices) == 1:
            query["find[device]"] = devices.pop()
        found = self.call("GET", "/api/v1/%s.json?%s" % (name, urllib.parse.urlencode(query)))
        return {_hashable(key(o)) for o in found or []}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def upload(shaped, site, say=print, batch=BATCH):
    """Send what the site lacks, in batches; returns {name: (sent, already there)}."""
    summary = {}
    for name, field, key in COLLECTIONS:
        objects = shaped.get(name) or []
        if not objects:
            summary[name] = (0, 0)
            continue
        have = site.existing(name, field, objects, key)
        missing = [o for o in objects if _hashable(key(o)) not in have]
        for i in range(0, len(missing), batch):
            chunk = missing[i:i + batch]
            site.call("POST", "/api/v1/%s" % name, chunk)
            say("%s: %d of %d sent" % (name, i + len(chunk), len(missing)))
        summary[name] = (len(missing), len(objects) - len(missing))
    return summary


def describe_summary(summary, url):
    parts = ["%s %d new, %d already there" % (name, sent, there)
             for name, (sent, there) in summary.items()]
    return "uploaded to %s: %s" % (url, "; ".join(parts))


def dry_run(shaped, url, say=print, batch=BATCH):
    """What upload would send (every object, one line each), without a connection."""
    for name, _, _ in COLLECTIONS:
        objects = shaped.get(name) or []
        batches = -(-len(objects) // batch)
        say("POST %s/api/v1/%s: %d objects in %d batch%s" % (
            url.rstrip("/"), name, len(objects), batches, "" if batches == 1 else "es"))
        for obj in objects:
            say("  " + line(name, obj))
    say("dry run: nothing sent (a real upload first asks the site what it holds and "
        "sends only what is missing)")


def line(name, obj):
    if name == "entries":
        return "%s sgv %s %s" % (obj["dateString"], obj["sgv"], obj["direction"])
    if name == "devicestatus":
        suggested = obj.get("openaps", {}).get("suggested", {})
        return "%s loop: bg %s, eventual %s, IOB %s, COB %s" % (
            obj["created_at"], suggested.get("bg"), suggested.get("eventualBG"),
            suggested.get("IOB"), suggested.get("COB"))
    shown = [obj["created_at"], obj["eventType"]]
    for field in ("insulin", "enteredinsulin", "relative", "carbs", "absolute", "percent",
                  "duration", "glucose", "type", "reason"):
        if obj.get(field) is not None:
            shown.append("%s %s" % (field, obj[field]))
    if obj["eventType"] in ("Note", "Site Change", "Insulin Change") and obj.get("notes"):
        shown.append(repr(obj["notes"]))
    return " ".join(str(s) for s in shown)
