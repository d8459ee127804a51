"""Fake `machine`, `time`, `rp2` and `esp32` modules on one virtual clock, for driver tests.

- World: the clock (integer nanoseconds) and a log of every GPIO level change.
- FakeTime: ticks_us/ticks_ms/ticks_diff/ticks_add with MicroPython's 2**30 wrap;
  sleep_us/sleep_ms advance the world.
- FakeMachine: machine.Pin(id, mode, pull, *, value=) that records levels over time.
- FakeRp2: rp2.asm_pio assembles the decorated program the way MicroPython's rp2.py does
  (the instruction names are injected as the function's globals and it is called with no
  arguments); rp2.StateMachine *executes* the program cycle by cycle (side-set, delays,
  FIFOs of depth 4, X/Y/ISR/OSR, wrap), so tests measure the real program's pulses.
- FakeEsp32: esp32.RMT with the MicroPython 1.27+ API (write_pulses modes 1-3, durations
  1..32767, blocking when a sequence is still running, wait_done(timeout=), active()).

The fakes refuse what would hang or misbehave on hardware (sm.get() on an empty FIFO,
put() on a full one, a second rmt.write_pulses() that would block forever) by raising
FakeHardwareError, so a driver bug fails the test instead of passing silently.
"""

TICKS_PERIOD = 1 << 30
MASK32 = 0xFFFFFFFF


class FakeHardwareError(AssertionError):
    """The driver did something that would hang or break real hardware."""


class World:
    def __init__(self, start_us=0):
        self.now_ns = start_us * 1000
        self.devices = []
        self.pins = {}
        self.events = []  # (t_ns, gpio, level) for every level change, in order
        self.created = []  # gpio numbers in the order Pin objects were made

    @property
    def now_us(self):
        return self.now_ns // 1000

    def advance_us(self, us):
        self.advance_to_ns(self.now_ns + int(us * 1000))

    def advance_to_ns(self, t_ns):
        if t_ns < self.now_ns:
            return
        for device in list(self.devices):
            device.run_until(t_ns)
        self.now_ns = t_ns

    def set_level(self, gpio, level, t_ns=None):
        pin = self.pins[gpio]
        level = int(level)
        if pin.level != level:
            pin.level = level
            self.events.append((self.now_ns if t_ns is None else t_ns, gpio, level))

    # ----- reading the log -----------------------------------------------------------

    def history(self, gpio):
        return [(t, lvl) for t, g, lvl in self.events if g == gpio]

    def level_at(self, gpio, t_ns):
        level = None
        for t, g, lvl in self.events:
            if g == gpio and t <= t_ns:
                level = lvl
        return level

    def edges(self, gpio, level):
        """Times (ns) at which `gpio` changed to `level`."""
        return [t for t, lvl in self.history(gpio) if lvl == level]


# ----- time ---------------------------------------------------------------------------


class FakeTime:
    def __init__(self, world, ticks_offset_us=0):
        self.world = world
        self.offset = ticks_offset_us

    def ticks_us(self):
        return (self.world.now_us + self.offset) % TICKS_PERIOD

    def ticks_ms(self):
        return (self.world.now_us // 1000 + self.offset // 1000) % TICKS_PERIOD

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + TICKS_PERIOD // 2) % TICKS_PERIOD) - TICKS_PERIOD // 2

    @staticmethod
    def ticks_add(a, delta):
        return (a + delta) % TICKS_PERIOD

    def sleep_us(self, us):
        self.world.advance_us(us)

    def sleep_ms(self, ms):
        self.world.advance_us(ms * 1000)


# ----- machine ------------------------------------------------------------------------


class FakeMachine:
    def __init__(self, world):
        self.world = world
        machine = self

        class Pin:
            IN = 0
            OUT = 1
            PULL_UP = 1
            PULL_DOWN = 2

            def __init__(self, gpio, mode=-1, pull=-1, *, value=None):
                if gpio in machine.world.pins:
                    existing = machine.world.pins[gpio]
                    self.__dict__ = existing.__dict__  # same GPIO, same state
                else:
                    self.gpio = gpio
                    self.level = None
                    self.mode = None
                    self.pull = None
                    machine.world.pins[gpio] = self
                    machine.world.created.append(gpio)
                if value is not None:  # like the ports: the level is set before the mode
                    machine.world.set_level(gpio, value)
                if mode != -1:
                    self.mode = mode
                if pull != -1:
                    self.pull = pull

            def value(self, *args):
                if args:
                    if self.mode != Pin.OUT:
                        raise FakeHardwareError("GPIO%d written but not an output" % self.gpio)
                    machine.world.set_level(self.gpio, args[0])
                    return None
                return self.level

            def __call__(self, *args):
                return self.value(*args)

            def on(self):
                self.value(1)

            def off(self):
                self.value(0)

        self.Pin = Pin


# ----- rp2: assembler ---------------------------------------------------------------


class Instr:
    def __init__(self, op, args, label=None):
        self.op = op
        self.args = args
        self.label = label
        self.side_value = None
        self.delay = 0

    def side(self, value):
        self.side_value = value
        return self

    def __getitem__(self, delay):
        self.delay = delay
        return self

    def __repr__(self):
        return "%s%r side=%r [%d]" % (self.op, self.args, self.side_value, self.delay)


class _Invert:
    def __init__(self, src):
        self.src = src


class _Emitter:
    """Collects a program; the namespace mirrors rp2.py's _pio_funcs names."""

    def __init__(self):
        self.instrs = []
        self.labels = {}
        self.wrap_target_at = None
        self.wrap_at = None

    def _add(self, op, *args, label=None):
        instr = Instr(op, args, label)
        self.instrs.append(instr)
        return instr

    def namespace(self):
        def label(name):
            if name in self.labels:
                raise FakeHardwareError("duplicate label %r" % name)
            self.labels[name] = len(self.instrs)

        def wrap_target():
            self.wrap_target_at = len(self.instrs)

        def wrap():
            self.wrap_at = len(self.instrs) - 1

        def jmp(cond, target=None):
            if target is None:
                cond, target = "always", cond
            return self._add("jmp", cond, label=target)

        ns = {
            "label": label,
            "wrap_target": wrap_target,
            "wrap": wrap,
            "jmp": jmp,
            "pull": lambda mode="block": self._add("pull", mode),
            "push": lambda mode="block": self._add("push", mode),
            "mov": lambda dest, src: self._add("mov", dest, src),
            "in_": lambda src, bits: self._add("in", src, bits),
            "set": lambda dest, value: self._add("set", dest, value),
            "nop": lambda: self._add("nop"),
            "invert": _Invert,
            "block": "block",
            "noblock": "noblock",
        }
        for name in ("x", "y", "isr", "osr", "null", "pins", "pindirs", "status"):
            ns[name] = name
        for name in ("not_x", "x_dec", "not_y", "y_dec", "x_not_y", "pin", "not_osre"):
            ns[name] = name
        return ns


class Program:
    def __init__(self, emitter, options):
        self.instrs = emitter.instrs
        self.labels = emitter.labels
        self.wrap_target = emitter.wrap_target_at or 0
        self.wrap_top = emitter.wrap_at if emitter.wrap_at is not None else len(self.instrs) - 1
        self.options = options
        for instr in self.instrs:
            if instr.label is not None and instr.label not in self.labels:
                raise FakeHardwareError("unknown label %r" % instr.label)
            if instr.delay > 15:  # 1 side-set bit on every instruction leaves 4 delay bits
                raise FakeHardwareError("delay too large: %r" % instr)
        if len(self.instrs) > 32:
            raise FakeHardwareError("program longer than a PIO's 32 instructions")


# ----- rp2: state machine -------------------------------------------------------------


class FakeRp2:
    class PIO:
        IN_LOW = 0
        IN_HIGH = 1
        OUT_LOW = 2
        OUT_HIGH = 3
        SHIFT_LEFT = 0
        SHIFT_RIGHT = 1
        JOIN_NONE = 0
        JOIN_TX = 1
        JOIN_RX = 2

    def __init__(self, world):
        self.world = world
        self.machines = {}
        self.encoded = []  # asm_pio_encode results, by index
        rp2 = self

        def asm_pio(**options):
            def decorate(func):
                results = []
                for _ in range(2):  # rp2.py runs the function twice (labels, then code)
                    emitter = _Emitter()
                    saved = dict(func.__globals__)
                    func.__globals__.clear()
                    func.__globals__.update(emitter.namespace())
                    try:
                        func()
                    finally:
                        func.__globals__.clear()
                        func.__globals__.update(saved)
                    results.append(emitter)
                return Program(results[1], options)

            return decorate

        def asm_pio_encode(instr, sideset_count, sideset_opt=False):
            emitter = _Emitter()
            ns = emitter.namespace()
            ns["jmp"] = None  # not supported by rp2.asm_pio_encode
            exec(instr, ns)
            if len(emitter.instrs) != 1:
                raise FakeHardwareError("expecting exactly 1 instruction")
            if emitter.instrs[0].side_value is not None and sideset_count < 1:
                raise FakeHardwareError("no sideset")
            rp2.encoded.append(emitter.instrs[0])
            return 0x10000 + len(rp2.encoded) - 1

        def StateMachine(sm_id, program=None, freq=-1, **kw):
            sm = FakeStateMachine(rp2, sm_id, program, freq, **kw)
            rp2.machines[sm_id] = sm
            return sm

        self.asm_pio = asm_pio
        self.asm_pio_encode = asm_pio_encode
        self.StateMachine = StateMachine


class FakeStateMachine:
    FIFO_DEPTH = 4

    def __init__(self, rp2, sm_id, program, freq, sideset_base=None, **kw):
        if not 0 <= sm_id <= 7:
            raise FakeHardwareError("state machine id %r" % sm_id)
        if not 1908 <= freq <= 125_000_000:  # divider 1..65536 at 125 MHz
            raise FakeHardwareError("freq %r outside the divider range" % freq)
        self.rp2 = rp2
        self.world = rp2.world
        self.program = program
        self.freq = freq
        self.cycle_ns = 1_000_000_000 // freq
        if self.cycle_ns * freq != 1_000_000_000:
            raise FakeHardwareError("the fake needs an integer cycle time")
        self.kw = kw
        self.sideset_pin = sideset_base.gpio if sideset_base is not None else None
        opts = program.options
        self.in_shift_right = opts.get("in_shiftdir", 0) == FakeRp2.PIO.SHIFT_RIGHT
        init = opts.get("sideset_init")
        if init is not None and self.sideset_pin is not None:
            self.world.set_level(self.sideset_pin, 1 if init == FakeRp2.PIO.OUT_HIGH else 0)
            self.world.pins[self.sideset_pin].mode = "pio"
        self.enabled = False
        self.tx = []
        self.rx = []
        self.x = self.y = self.isr = self.osr = 0
        self.pc = 0
        self.delay_left = 0
        self.t_ns = self.world.now_ns  # time up to which the machine has run
        self.execs = []  # forced instructions, for tests
        self.puts = []
        self.rx_dropped = 0
        self.world.devices.append(self)

    # ----- MicroPython API ------------------------------------------------------------

    def active(self, value=None):
        if value is not None:
            self.run_until(self.world.now_ns)
            self.enabled = bool(value)
            self.t_ns = self.world.now_ns
        return self.enabled

    def put(self, value, shift=0):
        self.run_until(self.world.now_ns)
        if len(self.tx) >= self.FIFO_DEPTH:
            raise FakeHardwareError("put() on a full TX FIFO would block")
        self.tx.append((value << shift) & MASK32)
        self.puts.append(value)

    def get(self, buf=None, shift=0):
        self.run_until(self.world.now_ns)
        if not self.rx:
            raise FakeHardwareError("get() on an empty RX FIFO would block forever")
        return self.rx.pop(0) >> shift

    def rx_fifo(self):
        self.run_until(self.world.now_ns)
        return len(self.rx)

    def tx_fifo(self):
        self.run_until(self.world.now_ns)
        return len(self.tx)

    def exec(self, instr):
        self.run_until(self.world.now_ns)
        if isinstance(instr, int):
            instr = self.rp2.encoded[instr - 0x10000]
        else:
            raise FakeHardwareError("the driver should pass pre-encoded instructions")
        self.execs.append(instr)
        if not self._execute(instr, forced=True):
            raise FakeHardwareError("a forced instruction stalled: %r" % instr)

    def restart(self):
        self.run_until(self.world.now_ns)
        self.pc = 0
        self.delay_left = 0
        self.isr = 0

    # ----- emulation ------------------------------------------------------------------

    def run_until(self, t_ns):
        if not self.enabled:
            self.t_ns = max(self.t_ns, t_ns)
            return
        while self.t_ns + self.cycle_ns <= t_ns:
            if self.delay_left:
                skip = min(self.delay_left, (t_ns - self.t_ns) // self.cycle_ns)
                self.delay_left -= skip
                self.t_ns += skip * self.cycle_ns
                continue
            instr = self.program.instrs[self.pc]
            # Fast path: a one-instruction delay loop `L: jmp(y_dec, L)` with no delay.
            if (instr.op == "jmp" and instr.args[0] in ("y_dec", "x_dec") and instr.delay == 0
                    and self.program.labels[instr.label] == self.pc):
                reg = "y" if instr.args[0] == "y_dec" else "x"
                value = getattr(self, reg)
                self._side(instr)
                available = (t_ns - self.t_ns) // self.cycle_ns
                if value + 1 <= available:
                    self.t_ns += (value + 1) * self.cycle_ns
                    setattr(self, reg, MASK32)  # the last decrement was of 0
                    self._advance_pc()
                else:
                    self.t_ns += available * self.cycle_ns
                    setattr(self, reg, value - available)
                continue
            if self._execute(instr):
                self.delay_left = instr.delay
                self.t_ns += self.cycle_ns
            else:
                # Stalled on a FIFO: only Python can change the FIFOs, and every API call
                # runs the machine up to "now" first, so it stays stalled until t_ns.
                self.t_ns += (t_ns - self.t_ns) // self.cycle_ns * self.cycle_ns

    def _side(self, instr):
        if instr.side_value is not None and self.sideset_pin is not None:
            self.world.set_level(self.sideset_pin, instr.side_value, self.t_ns)

    def _advance_pc(self):
        if self.pc == self.program.wrap_top:
            self.pc = self.program.wrap_target
        else:
            self.pc += 1

    def _read(self, src):
        if isinstance(src, _Invert):
            return ~self._read(src.src) & MASK32
        return 0 if src == "null" else getattr(self, src)

    def _execute(self, instr, forced=False):
        """One instruction; False if it stalled (the PC stays, side-set still happens)."""
        self._side(instr)
        op, args = instr.op, instr.args
        jumped = False
        if op == "pull":
            if self.tx:
                self.osr = self.tx.pop(0)
            elif args[0] == "block":
                return False
            else:
                self.osr = self.x
        elif op == "push":
            if len(self.rx) < self.FIFO_DEPTH:
                self.rx.append(self.isr)
            elif args[0] == "block":
                return False
            else:
                self.rx_dropped += 1
            self.isr = 0
        elif op == "mov":
            setattr(self, args[0], self._read(args[1]))
        elif op == "in":
            bits = args[1]
            value = self._read(args[0]) & ((1 << bits) - 1)
            if self.in_shift_right:
                self.isr = (self.isr >> bits) | (value << (32 - bits))
            else:
                self.isr = ((self.isr << bits) | value) & MASK32
        elif op == "jmp":
            cond = args[0]
            if cond == "always":
                take = True
            elif cond == "not_x":
                take = self.x == 0
            elif cond == "not_y":
                take = self.y == 0
            elif cond in ("x_dec", "y_dec"):
                reg = cond[0]
                value = getattr(self, reg)
                take = value != 0
                setattr(self, reg, (value - 1) & MASK32)
            else:
                raise FakeHardwareError("jmp condition %r not emulated" % cond)
            if take and not forced:
                self.pc = self.program.labels[instr.label]
                jumped = True
        elif op == "nop":
            pass
        else:
            raise FakeHardwareError("instruction %r not emulated" % op)
        if not forced and not jumped:
            self._advance_pc()
        return True


# ----- esp32 ------------------------------------------------------------------------


class FakeEsp32:
    def __init__(self, world, mem_symbols=64):
        self.world = world
        self.channels = []
        esp32 = self

        class RMT:
            PULSE_MAX = 32767

            def __init__(self, channel=-1, *, pin=None, resolution_hz=None, clock_div=None,
                         idle_level=False, tx_carrier=None, num_symbols=mem_symbols):
                if pin is None:
                    raise TypeError("pin is required")
                if resolution_hz is not None and clock_div is not None:
                    raise ValueError("resolution_hz and clock_div are mutually exclusive")
                if resolution_hz is None:
                    resolution_hz = 80_000_000 // clock_div if clock_div else 10_000_000
                if num_symbols < mem_symbols or num_symbols % 2:
                    raise ValueError("num_symbols must be even and at least %d" % mem_symbols)
                self.channel = channel
                self.gpio = pin.gpio
                self.tick_ns = 1_000_000_000 // resolution_hz
                self.idle_level = 1 if idle_level else 0
                self.loop = 0
                self.segments = []  # (t_ns, level) still to play
                self.end_ns = esp32.world.now_ns
                self.writes = []  # (start_ns, [(ticks, level), ...]) for tests
                self.blocked_ns = 0  # time write_pulses spent waiting for a running chunk
                self.stopped = 0
                esp32.world.pins[self.gpio].mode = "rmt"
                esp32.world.set_level(self.gpio, self.idle_level)
                esp32.world.devices.append(self)
                esp32.channels.append(self)

            @staticmethod
            def source_freq():
                return 80_000_000

            def _busy(self):
                return esp32.world.now_ns < self.end_ns

            def active(self, value=None):
                if value is None:
                    return self._busy()
                if value:
                    raise ValueError("activate by calling write_pulses()")
                self.segments = []
                self.end_ns = esp32.world.now_ns
                esp32.world.set_level(self.gpio, self.idle_level)
                self.stopped += 1
                return False

            def wait_done(self, *, timeout=0):
                if self._busy() and timeout:
                    wait_until = min(self.end_ns, esp32.world.now_ns + timeout * 1_000_000)
                    esp32.world.advance_to_ns(wait_until)
                return not self._busy()

            def loop_count(self, n):
                self.loop = n

            def write_pulses(self, duration, data=True):
                if self.loop:
                    raise FakeHardwareError("looping is not used by the stepper driver")
                if isinstance(data, (list, tuple)):
                    if isinstance(duration, int):  # mode 2
                        pairs = [(duration, lvl) for lvl in data]
                    else:  # mode 3
                        if len(duration) != len(data):
                            raise ValueError("duration and data must have same length")
                        pairs = list(zip(duration, data))
                else:  # mode 1
                    level = 1 if data else 0
                    pairs = []
                    for ticks in duration:
                        pairs.append((ticks, level))
                        level ^= 1
                if not pairs:
                    raise ValueError("No pulses")
                for ticks, _ in pairs:
                    if not isinstance(ticks, int) or not 1 <= ticks <= self.PULSE_MAX:
                        raise FakeHardwareError("RMT duration %r outside 1..32767" % ticks)
                if self._busy():  # the real call blocks until the running sequence ends
                    self.blocked_ns += self.end_ns - esp32.world.now_ns
                    esp32.world.advance_to_ns(self.end_ns)
                start = esp32.world.now_ns
                self.writes.append((start, [(d, 1 if lvl else 0) for d, lvl in pairs]))
                t = start
                for ticks, level in pairs:
                    self.segments.append((t, 1 if level else 0))
                    t += ticks * self.tick_ns
                self.segments.append((t, self.idle_level))  # end of transmission level
                self.end_ns = t
                self.run_until(start)

            def run_until(self, t_ns):
                while self.segments and self.segments[0][0] <= t_ns:
                    t, level = self.segments.pop(0)
                    esp32.world.set_level(self.gpio, level, t)

        self.RMT = RMT


def make_world(start_us=0, ticks_offset_us=0):
    """A world and its modules: (world, machine, time, rp2, esp32)."""
    world = World(start_us)
    return (world, FakeMachine(world), FakeTime(world, ticks_offset_us), FakeRp2(world),
            FakeEsp32(world))
