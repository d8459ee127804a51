"""The Keeper (journal, checkpoint, restart rules) inside the app, on an in-memory flash:
the same records, plans and boot notes on CPython and MicroPython (the firmware runs
basalt.persist on the board, so it must behave the same there)."""


from basalt.app import PumpApp
from basalt.core.board_file import load_board
from basalt.core.errors import BasaltError
from basalt.core.safety import Limits
from basalt.ports import Clock, Motor, Storage
from basalt.storage.journal import Journal
from basalt.storage.keeper import Keeper
from vectors.vectorkit import emit

BOARD = load_board({
    "name": "vec", "mcu": "host",
    "motor": {"driver": "fake", "step": 2, "dir": 3, "enable": 4, "max_step_hz": 4000},
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
})


class MemoryStorage(Storage):
    def __init__(self):
        self.files = {}

    def read(self, name):
        data = self.files.get(name)
        return None if data is None else bytes(data)

    def append(self, name, data):
        self.files[name] = self.files.get(name, b"") + bytes(data)

    def write(self, name, data):
        self.files[name] = bytes(data)

    def replace(self, name, data):
        self.files[name] = bytes(data)

    def names(self):
        return sorted(self.files)

    def size(self, name):
        return len(self.files.get(name, b""))

    def remove(self, name):
        self.files.pop(name, None)


class Ticks(Clock):
    def __init__(self):
        self.now = 0

    def now_ms(self):
        return self.now


class InstantMotor(Motor):
    """Moves finish at once; counts forward steps."""
    max_step_hz = 4000

    def __init__(self):
        self.enabled = False
        self.forward = True
        self.total = 0
        self.last = 0

    def enable(self):
        self.enabled = True

    def disable(self):
        self.enabled = False

    def is_enabled(self):
        return self.enabled

    def set_direction(self, forward):
        self.forward = forward

    def move(self, steps, duration_ms):
        self.last = steps
        self.total += steps if self.forward else -steps

    def busy(self):
        return False

    def steps_done(self):
        return self.last


WIDE = Limits(25_000, 30_000, 100_000, 75_000, 1_000_000)  # about the keeper, not limits


def boot(storage, ack=True):
    clock = Ticks()
    motor = InstantMotor()
    app = PumpApp(BOARD, clock, motor, tick_ms=1000, limits=WIDE)
    app.keeper = Keeper(storage)
    plan = app.keeper.start(0, "watchdog")
    if ack:
        app.command({"cmd": "boot_ack", "time": "07:00"})
    return app, clock, motor, plan


def run(app, clock, ms):
    end = clock.now + ms
    while clock.now < end:
        clock.now += 1000
        app.step()


storage = MemoryStorage()
app, clock, motor, plan = boot(storage)
for cmd in ({"cmd": "set_profile", "name": "Day", "segments": [["00:00", 1.0]]},
            {"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"},
            {"cmd": "temp_basal", "percent": 60, "minutes": 120},
            {"cmd": "bolus", "units": 2}):
    app.command(cmd)
run(app, clock, 30_000)
emit("moved", motor.total)
app, clock, motor, plan = boot(storage, ack=False)
emit("plan", [plan["state"], plan["temp"], plan["uncertain"], plan["events"]])
emit("notes", app.keeper.boot_notes)
try:
    app.command({"cmd": "bolus", "units": 1})
except BasaltError as error:
    emit("locked", str(error))
app.command({"cmd": "boot_ack"})
emit("reconciled", app.command({"cmd": "reconcile_bolus", "units": 0.7}))
run(app, clock, 120_000)
emit("after", [app.engine.stop_reason, app.engine.temp_program(), motor.total])
records = Journal(storage).read().records
emit("journal", [[r.seq, r.boot, r.at_ms, r.kind] for r in records])
emit("files", [[name, storage.size(name)] for name in storage.names()])
