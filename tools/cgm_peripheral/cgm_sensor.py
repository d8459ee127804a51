"""The simulated CGM sensor's logic: what it measures, stores and answers. No radio here.

Encoding is basalt.core.cgms, the very module the pump decodes with. Time is the record
count: record n has time offset n * offset_step_min, so a demo can run an hour of sensor
time in a minute (interval_s 1, offset_step_min 1) while the wire stays standard.
"""

import math

from basalt.core import cgms, cgms_link, cgms_sensor

DEFAULTS = {
    "name": "Basalt CGM sim",
    "interval_s": 60,  # seconds between records (real time on the board)
    "offset_step_min": 1,  # sensor minutes per record (1 or 5 like real CGMs)
    "crc": True,  # E2E-CRC on (Feature bit 12)
    "trace": None,  # list of mg/dL values (None entries send NaN); None: the model
    "base_mg_dl": 120,
    "swing_mg_dl": 40,  # the model: a slow wave ...
    "period_min": 180,
    "noise_mg_dl": 2,  # ... with a little deterministic noise
    "seed": 1,
    "log_records": 720,  # kept for RACP back-fill (12 h at 1 per minute)
    "session_start": [2026, 1, 1, 8, 0, 0],
    "button_up": None,  # GPIO of a button that raises the trace by STEP_MG_DL (or None)
    "button_down": None,  # ... and one that lowers it
}
STEP_MG_DL = 20
HELP = "bg N | up | down | model | off N | status"


def load_config(overrides):
    config = dict(DEFAULTS)
    for key in overrides:
        if key not in DEFAULTS:
            raise ValueError("unknown key %r; allowed: %s" % (key, ", ".join(sorted(DEFAULTS))))
        config[key] = overrides[key]
    if not isinstance(config["interval_s"], int) or config["interval_s"] < 1:
        raise ValueError("interval_s: %r; allowed: whole seconds >= 1" % config["interval_s"])
    for key in ("button_up", "button_down"):
        pin = config[key]
        if pin is not None and (not isinstance(pin, int) or not 0 <= pin <= 48):
            raise ValueError("%s: %r; allowed: a GPIO number 0-48 or null" % (key, pin))
    if config["offset_step_min"] not in (1, 5):
        raise ValueError("offset_step_min: %r; allowed: 1 or 5" % config["offset_step_min"])
    return config


class SensorModel:
    def __init__(self, config):
        self.config = config
        self.crc = bool(config["crc"])
        self.count = 0
        self.log = []  # (offset, record bytes), oldest first, bounded
        self._seed = config["seed"]
        self._previous = None
        self.hold = None  # "bg N": every record is N mg/dL until "model"
        self.shift = 0  # "up" / "down": added to the trace or the model
        self.off_records = 0  # "off N": the radio is off for the next N records
        start = config["session_start"]
        self.session = cgms_link.SessionStart(start[0], start[1], start[2], start[3], start[4],
                                         start[5], 0, 0)

    # --- characteristic values ---------------------------------------------------------

    def feature(self):
        flags = cgms.FEATURE_TREND | (cgms.FEATURE_E2E_CRC if self.crc else 0)
        return bytes(cgms_sensor.encode_feature(flags, 9, 5))  # interstitial fluid, subcutaneous

    def status(self):
        return bytes(cgms_sensor.encode_status(self.offset(), 0, self.crc))

    def session_start(self):
        return bytes(cgms_sensor.encode_session_start(self.session, self.crc))

    def session_run(self):
        return bytes(cgms_sensor.encode_session_run(336, self.crc))  # 14 days

    def offset(self):
        return max(0, self.count - 1) * self.config["offset_step_min"]

    # --- measuring ---------------------------------------------------------------------

    def glucose(self, n):
        """mg/dL for record n (None = the sensor has no value: NaN)."""
        if self.hold is not None:
            return self.hold
        trace = self.config["trace"]
        if trace:
            value = trace[n % len(trace)]
            return None if value is None else max(20, value + self.shift)
        minutes = n * self.config["offset_step_min"]
        wave = math.sin(2 * math.pi * minutes / self.config["period_min"])
        noise = self._noise(self.config["noise_mg_dl"])
        return max(20, int(self.config["base_mg_dl"] + self.config["swing_mg_dl"] * wave +
                           noise) + self.shift)

    def command(self, line):
        """A serial (or button) command: changes what the next records measure; returns
        the reply the console prints."""
        words = line.split()
        if not words:
            return HELP
        word = words[0]
        if word in ("up", "down"):
            self.shift += STEP_MG_DL if word == "up" else -STEP_MG_DL
            return "shift %+d mg/dL" % self.shift
        if word == "model":
            self.hold, self.shift = None, 0
            return "trace as configured"
        if word == "status":
            return "offset %d, next %s mg/dL, radio %s" % (
                self.offset(), self.glucose(self.count),
                "off for %d" % self.off_records if self.off_records else "on")
        if word in ("bg", "off") and len(words) == 2 and words[1].isdigit():
            value = int(words[1])
            if word == "off":
                self.off_records = value
                return "radio off for %d records (kept for the RACP)" % value
            if 20 <= value <= 600:
                self.hold = value
                return "bg %d mg/dL" % value
        return "error: %r; commands: %s" % (line.strip(), HELP)

    def _noise(self, amplitude):
        self._seed = (self._seed * 1664525 + 1013904223) & 0xFFFFFFFF
        return (self._seed >> 8) % (2 * amplitude + 1) - amplitude if amplitude else 0

    def next_record(self):
        """Measure once: the record (bytes) to notify; it is also kept for the RACP."""
        n = self.count
        offset = n * self.config["offset_step_min"]
        value = self.glucose(n)
        trend = None
        if value is None:
            raw = cgms_sensor.sfloat_special("nan")
        else:
            raw = cgms_sensor.sfloat_from_milli(value * 1000)
            if self._previous is not None:
                trend = cgms_sensor.sfloat_from_milli(
                    (value - self._previous) * 1000 // self.config["offset_step_min"])
        self._previous = value
        record = bytes(cgms_sensor.encode_record(raw, offset, None, trend, None, self.crc))
        self.log.append((offset, record))
        if len(self.log) > self.config["log_records"]:
            self.log.pop(0)
        self.count += 1
        return record

    # --- Record Access Control Point ------------------------------------------------------

    def racp(self, request):
        """Answer a RACP write: [("notify", record), ..., ("indicate", response)]."""
        try:
            op, operator, since = cgms_sensor.decode_racp_request(request)
        except cgms.CgmFormatError as error:
            op = request[0] if request else 0
            return [("indicate", cgms_sensor.racp_response(op, error.racp_code))]
        if op == cgms_link.RACP_ABORT:
            return [("indicate", cgms_sensor.racp_response(op, cgms_link.RACP_SUCCESS))]
        found = self._select(operator, since)
        if op == cgms_link.RACP_REPORT_COUNT:
            return [("indicate", cgms_sensor.racp_count(len(found)))]
        if op == cgms_link.RACP_DELETE:
            return [("indicate", cgms_sensor.racp_response(op, 2))]  # op code not supported
        answers = [("notify", record) for record in found]
        code = cgms_link.RACP_SUCCESS if found else cgms_link.RACP_NO_RECORDS
        answers.append(("indicate", cgms_sensor.racp_response(op, code)))
        return answers

    def _select(self, operator, since):
        if operator == cgms_link.OP_ALL:
            return [r for _, r in self.log]
        if operator == cgms_link.OP_FIRST:
            return [r for _, r in self.log[:1]]
        if operator == cgms_link.OP_LAST:
            return [r for _, r in self.log[-1:]]
        return [r for offset, r in self.log if offset >= since]
