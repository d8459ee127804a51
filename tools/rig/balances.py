"""Balances over serial: one small reader per protocol, and an auto-detect.

Each protocol is a request (the bytes that ask for one reading now) and a parser of the
reply line. The parser returns a Reading only for a weight the balance calls stable, in
a mass unit; everything else raises a BalanceError subclass whose message says what the
balance said and what to do, and is never counted as a reading. The protocol facts
(commands, reply layouts, status codes) are from the manufacturers' manuals, restated
in docs/references.md#laboratory-balances-over-serial.

    MT-SICS    Mettler Toledo: `SI` (weight now), replies `S S <value> <unit>` (stable),
               `S D ...` (dynamic), `S I` (busy), `S +` / `S -` (over/underload), `ES`
    SBI        Sartorius: ESC P; 16 characters (sign, value, unit) or 22 with a 6-char
               ID; no unit symbol while unstable; H/HH, L/LL, C and `Err ###` specials
    Ohaus      `IP` (immediate print): value, unit, `?` when unstable; `ES` refused
    A&D        `Q` (data now): `ST,+00012.345  g`; US unstable, OL out of range,
               QT a count, `EC,Exx` error codes
"""

import re
import time

GRAMS_PER = {"g": 1.0, "mg": 0.001, "kg": 1000.0}  # the mass units a reading may carry
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?$")


class BalanceError(Exception):
    """A reply that is not a reading; the message says what the balance sent."""


class NoReply(BalanceError):
    pass


class Malformed(BalanceError):
    pass


class Unstable(BalanceError):
    pass


class Overload(BalanceError):
    pass


class Busy(BalanceError):
    pass


class Refused(BalanceError):
    pass


class UnitError(BalanceError):
    pass


class Reading:
    __slots__ = ("grams", "value", "unit", "raw")

    def __init__(self, value, unit, raw):
        self.value = value
        self.unit = unit
        self.grams = value * GRAMS_PER[unit]
        self.raw = raw

    def __repr__(self):
        return "Reading(%r %s)" % (self.value, self.unit)


def _shown(raw):
    return repr(raw.rstrip("\r\n"))


def _number(protocol, raw, text):
    if not _NUMBER.match(text):
        raise Malformed("%s: %r in %s is not a number" % (protocol, text, _shown(raw)))
    return float(text)


def _reading(protocol, raw, value_text, unit):
    value = _number(protocol, raw, value_text)
    if unit not in GRAMS_PER:
        raise UnitError("%s: the balance reports in %r (%s); set its unit to g, mg or kg"
                        % (protocol, unit, _shown(raw)))
    return Reading(value, unit, raw)


# ----- the protocols -------------------------------------------------------------------


class MtSics:
    name = "mt-sics"
    title = "Mettler Toledo MT-SICS"
    request = b"SI\r\n"

    @classmethod
    def parse(cls, raw):
        tokens = raw.split()
        if not tokens:
            raise Malformed("%s: an empty reply" % cls.title)
        if tokens[0] in ("ES", "ET", "EL"):
            raise Refused("%s: the balance answered %s (an error reply: ES is a syntax "
                          "error, the command was not understood)" % (cls.title, tokens[0]))
        if tokens[0] != "S" or len(tokens) < 2:
            raise Malformed("%s: %s is not a weight reply (S ...)" % (cls.title, _shown(raw)))
        status = tokens[1]
        if status == "I":
            raise Busy("%s: S I, the balance is busy (taring, adjusting) and sent no "
                       "weight" % cls.title)
        if status in ("+", "-"):
            raise Overload("%s: S %s, the balance is in its %s range"
                           % (cls.title, status, "overload" if status == "+" else "underload"))
        if status not in ("S", "D") or len(tokens) != 4:
            raise Malformed("%s: %s is not S S|D <value> <unit>" % (cls.title, _shown(raw)))
        reading = _reading(cls.title, raw, tokens[2], tokens[3])
        if status == "D":
            raise Unstable("%s: dynamic (unstable) weight %s %s, not counted"
                           % (cls.title, tokens[2], tokens[3]))
        return reading


class SartoriusSbi:
    name = "sbi"
    title = "Sartorius SBI"
    request = b"\x1bP\r\n"
    _SPECIAL = {"H": (Overload, "overload"), "HH": (Overload, "overload (checkweighing)"),
                "HIGH": (Overload, "overload"), "L": (Overload, "underload"),
                "LL": (Overload, "underload (checkweighing)"), "LOW": (Overload, "underload"),
                "C": (Busy, "adjusting")}

    @classmethod
    def parse(cls, raw):
        line = raw.rstrip("\r\n")
        body = line[6:] if len(line) == 20 else line  # 22 characters: a 6-character ID
        word = body.replace("[", "").replace("]", "").strip()
        if not word:
            raise Malformed("%s: an empty reply" % cls.title)
        if "Err" in word:
            raise Refused("%s: the balance reports an error (%s)" % (cls.title, word))
        special = cls._SPECIAL.get(word.upper())
        if special:
            error, what = special
            raise error("%s: %s, the balance shows %s" % (cls.title, word, what))
        match = re.fullmatch(r"([+-]?)\s*([0-9.]+)\s*([^\s0-9.]*)", word)
        if not match:
            raise Malformed("%s: %s is not [sign] value [unit]" % (cls.title, _shown(raw)))
        sign, digits, unit = match.groups()
        value_text = ("-" if sign == "-" else "") + digits
        if not unit:  # no unit symbol is printed until the weight is stable
            _number(cls.title, raw, value_text)
            raise Unstable("%s: %s without a unit: not stable yet, not counted"
                           % (cls.title, word))
        return _reading(cls.title, raw, value_text, unit)


class Ohaus:
    name = "ohaus"
    title = "Ohaus"
    request = b"IP\r\n"
    _FLAGS = {"G", "N", "NET", "B/G", "T", "TARE"}  # gross/net/tare markers some print

    @classmethod
    def parse(cls, raw):
        tokens = raw.split()
        if tokens[:1] == ["ES"]:
            raise Refused("%s: ES, the balance did not recognise the command" % cls.title)
        if tokens[:1] == ["-"] and len(tokens) > 1:  # the sign may stand apart
            tokens = ["-" + tokens[1]] + tokens[2:]
        if len(tokens) < 2:
            raise Malformed("%s: %s is not <value> <unit> [?]" % (cls.title, _shown(raw)))
        rest = tokens[2:]
        unknown = [t for t in rest if t != "?" and t.upper() not in cls._FLAGS]
        if unknown:
            raise Malformed("%s: %s has %r after the unit" % (cls.title, _shown(raw),
                                                              " ".join(unknown)))
        reading = _reading(cls.title, raw, tokens[0], tokens[1])
        if "?" in rest:
            raise Unstable("%s: %s %s marked '?', unstable: not counted"
                           % (cls.title, tokens[0], tokens[1]))
        return reading


class AandD:
    name = "and"
    title = "A&D"
    request = b"Q\r\n"

    @classmethod
    def parse(cls, raw):
        line = raw.strip()
        parts = line.split(",")
        head = parts[0]
        if head == "EC":
            raise Refused("%s: error code %s" % (cls.title, ",".join(parts[1:]) or "?"))
        if len(parts) not in (2, 3) or head not in ("ST", "US", "OL", "QT"):
            raise Malformed("%s: %s is not HH,<data><unit> (ST, US, OL or QT)"
                            % (cls.title, _shown(raw)))
        data = parts[-1]
        if head == "OL":
            raise Overload("%s: OL, the weight is out of range (%s)" % (cls.title, data.strip()))
        if head == "QT":
            raise UnitError("%s: QT, the balance sends a count, not a weight; set it to "
                            "weighing in g" % cls.title)
        match = re.fullmatch(r"\s*([+-]?[0-9.]+)\s*(\S*)\s*", data)
        if not match:
            raise Malformed("%s: %s has no <sign><digits> <unit>" % (cls.title, _shown(raw)))
        reading = _reading(cls.title, raw, match.group(1), match.group(2))
        if head == "US":
            raise Unstable("%s: US, unstable %s %s: not counted"
                           % (cls.title, match.group(1), match.group(2)))
        return reading


PROTOCOLS = {p.name: p for p in (MtSics, AandD, Ohaus, SartoriusSbi)}  # detect order


# ----- the reader ----------------------------------------------------------------------


class BalanceReader:
    """One balance on a serial port (a pyserial-like object: write, readline,
    reset_input_buffer). read() asks for one reading; the unit must stay the one the
    first reading had."""

    def __init__(self, serial, protocol):
        self.serial = serial
        self.protocol = protocol
        self.unit = None

    def ask(self):
        """The balance's reply line to one request (text); NoReply if none came."""
        self.serial.reset_input_buffer()
        self.serial.write(self.protocol.request)
        raw = self.serial.readline()
        if not raw:
            raise NoReply("%s: no reply on %s (check the cable, the baud rate and the "
                          "balance's interface setting)" % (self.protocol.title,
                                                           getattr(self.serial, "port", "?")))
        return raw.decode("latin-1")

    def read(self):
        reading = self.protocol.parse(self.ask())
        if self.unit is None:
            self.unit = reading.unit
        elif reading.unit != self.unit:
            raise UnitError("%s: the unit changed from %s to %s during the run: not "
                            "counted; set it back to %s" % (self.protocol.title, self.unit,
                                                            reading.unit, self.unit))
        return reading

    def read_stable(self, tries=10, wait=None):
        """A stable reading, asking again (after wait(), e.g. a second) while the
        balance is unstable or busy; the last error if none came."""
        for attempt in range(tries):
            try:
                return self.read()
            except (Unstable, Busy):
                if attempt == tries - 1:
                    raise
                (wait or (lambda: time.sleep(1.0)))()
        raise AssertionError("unreachable")


def detect(serial, protocols=None):
    """Try each protocol once; (protocol, [one line per protocol tried]). A protocol
    answered when its parser took the reply as a weight (stable or not, or over range);
    an error reply or another format is not an answer. (None, lines) if none did."""
    lines = []
    for protocol in protocols or PROTOCOLS.values():
        reader = BalanceReader(serial, protocol)
        try:
            reading = protocol.parse(reader.ask())
        except (Unstable, Overload) as status:
            lines.append("%s: answered (%s)" % (protocol.title, status))
            return protocol, lines
        except BalanceError as error:
            lines.append("%s: %s" % (protocol.title, "no reply" if isinstance(error, NoReply)
                                     else "not its reply (%s)" % error))
            continue
        lines.append("%s: answered %s" % (protocol.title, _shown(reading.raw)))
        return protocol, lines
    return None, lines


def open_serial(port, baud=9600, bytesize=8, parity="N", stopbits=1, timeout=2.0):
    import serial

    return serial.Serial(port, baud, bytesize=bytesize, parity=parity, stopbits=stopbits,
                         timeout=timeout)
