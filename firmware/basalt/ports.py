"""Ports: the small interfaces the app expects from hardware.

Drivers (firmware/basalt/drivers) implement them on real boards; host_tests/fakes.py
implements them for tests and the simulator, enforcing the same contracts.
Every method documents the contract an implementation must keep.
"""

from basalt.core.forcecal import counts_to_mn


class Motor:
    """A stepper behind a STEP/DIR/EN driver, pushing the syringe plunger.

    Contract (fail safe):
    - The driver is disabled at construction (power-up) and stays disabled unless
      enable() was called; the app disables it again whenever a move has finished.
    - move(steps, duration_ms) starts `steps` microsteps spread evenly over
      `duration_ms`. Step pulses are timed by hardware (PIO, RMT, timer), never by a
      Python loop. It raises MotorFault when the driver is disabled or a move is
      still running, and ValueError when steps < 1 or the rate exceeds max_step_hz.
    - set_direction() raises MotorFault while a move is running.
    - move() also raises ValueError above 1,000,000 microsteps or for a step period
      over 250 s; busy() stays True until the last step's period has passed.
    - steps_done() counts the microsteps the hardware has actually issued in the
      current or last move; stop() aborts a move and returns that count. After stop()
      it is an upper bound: the steps issued before EN went inactive (exact on PIO).
    - poll() collects progress from the step timer (and feeds timers that need it);
      the app calls it, or busy(), at least once per tick while a move runs.
    """

    max_step_hz = 0

    def enable(self):
        raise NotImplementedError

    def disable(self):
        raise NotImplementedError

    def is_enabled(self):
        raise NotImplementedError

    def set_direction(self, forward):
        raise NotImplementedError

    def move(self, steps, duration_ms):
        raise NotImplementedError

    def busy(self):
        raise NotImplementedError

    def steps_done(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def poll(self):
        return self.busy()


class Clock:
    """The one clock: a monotonic millisecond count that never goes backwards.

    On a board it is kept from time.ticks_ms() through ticks_diff (so the 2**30 wrap of
    ticks never shows); in the simulator it is virtual. Core code never reads it: the
    app reads it once per tick and passes now_ms down.

    It stays a small int: when now_ms() passes rebase_at_ms the app moves it back with
    rebase() between two ticks, and every part's stored times with it (PumpApp.rebase).
    epoch_ms counts what was taken off: uptime_ms() is the time since the start.
    rebase_at_ms None: never (a host clock, whose ints never allocate). A clock that
    keeps its count in _now gets rebase() from here.
    """

    rebase_at_ms = None
    epoch_ms = 0

    def now_ms(self):
        raise NotImplementedError

    def rebase(self, shift_ms):
        self._now -= shift_ms
        self.epoch_ms += shift_ms

    def uptime_ms(self):
        return self.now_ms() + self.epoch_ms

    async def sleep_ms(self, ms):
        raise NotImplementedError

    async def wait_ms(self, flag, ms):
        """Until flag (an asyncio.ThreadSafeFlag: a pin's edge, a new buzzer pattern) is
        set or ms have passed. Only a board's clock has it; tasks get a flag only there."""
        raise NotImplementedError


class Storage:
    """Files in flash (littlefs on a board), one flat folder, small whole-file operations.

    Contract (what a power cut may leave behind):
    - append(name, data) adds data at the end of the file (creating it) and returns only
      once the bytes are durable. A cut during it may leave any prefix of data.
    - write(name, data) replaces the file's content (creating it) and returns once it is
      durable. A cut during it may leave the file empty or holding any prefix of data.
    - replace(name, data) is atomic: after a cut the file holds either its old content or
      all of data, never a mix (write a new file, sync and close it, rename over).
    - read(name) returns the file's bytes, or None if there is no such file;
      read_at(name, offset, size) a part of them.
    - names() lists the files; size(name) is a file's size (0 if missing);
      remove(name) deletes a file if it exists.
    - Failures other than a power cut raise OSError.
    """

    def read(self, name):
        raise NotImplementedError

    def read_at(self, name, offset, size):
        """Up to size bytes of a file from offset (fewer at its end; b"" past it or if
        there is no such file): what a reader that must not hold the whole file uses.
        Ports with seekable files do it without reading the rest."""
        return (self.read(name) or b"")[offset:offset + size]

    def append(self, name, data):
        raise NotImplementedError

    def write(self, name, data):
        raise NotImplementedError

    def replace(self, name, data):
        raise NotImplementedError

    def names(self):
        raise NotImplementedError

    def size(self, name):
        raise NotImplementedError

    def remove(self, name):
        raise NotImplementedError


class Watchdog:
    """A hardware watchdog: once started it resets the board unless fed in time.

    Contract: start() arms it (it cannot be disarmed); feed() must then come at least
    every timeout_ms. Only the task supervisor feeds it (basalt.core.supervisor).
    """

    timeout_ms = 0

    def start(self):
        raise NotImplementedError

    def feed(self):
        raise NotImplementedError


class ForceSensor:
    """The force on the syringe plunger (occlusion sensor): a load cell or an FSR.

    Contract:
    - read_raw() returns one fresh conversion in the sensor's own counts (an int), or
      raises SensorFault: "timeout" when the sensor does not answer in time,
      "saturated" when the reading is at the end of the converter's range. Never a
      stale value, never a default: a sensor that cannot measure must say so.
    - read_mn() is read_raw() through the stored calibration (basalt.core.forcecal):
      the force in integer millinewtons, positive when the plunger is pushed.
    - calibration is the plain-data calibration in use (tare and scale); replacing it
      takes effect on the next read.
    - Reads are short and bounded (an HX711 read waits at most one conversion period
      plus a margin); power_down()/power_up() are optional (default: no-op).
    - read_mn_now() is what the delivery tick calls: it never waits for a conversion
      (an HX711 takes the one its reading task captured, else raises SensorFault
      "timeout"); by default it is read_mn(), for sensors whose reads are short.
    """

    calibration = None

    def read_raw(self):
        raise NotImplementedError

    def read_mn(self):
        return counts_to_mn(self.calibration, self.read_raw())

    def read_mn_now(self):
        return self.read_mn()

    def power_down(self):
        pass

    def power_up(self):
        pass


class Buzzer:
    """A piezo buzzer (PWM through a transistor) that plays the alarm patterns.

    Contract:
    - play(pattern) starts repeating `pattern`, one of basalt.core.alarms.PATTERNS:
      (volume permille, repeat every ms, ((frequency Hz, on ms, off ms), ...)). It
      replaces whatever was playing, returns at once (the timing is the driver's), and
      raises InvalidValue for anything check_pattern() refuses.
    - stop() silences it at once (the PWM output is left low); stopping twice is fine.
    - The buzzer is silent at construction (power-up).
    """

    def play(self, pattern):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def rebase(self, shift_ms):
        """The app's clock moved back (Clock.rebase): a buzzer keeping its times moves them."""


class Battery:
    """The battery voltage through the board's ADC divider.

    Contract: read_mv() returns the battery's voltage in millivolts (after undoing the
    divider) as an int, averaged over a few ADC samples; a failed read raises OSError.
    It is cheap enough to call every few seconds from the app's tick.
    """

    def read_mv(self):
        raise NotImplementedError


# The display and the keys are ports too, but nothing on a board subclasses them (the
# SSD1306 driver is a framebuf.FrameBuffer, a key a plain callable): written down here,
# not as classes, so a booted pump does not hold a class and a function per method.
#
# Canvas: a 1-bit drawing surface with MicroPython's framebuf API (MONO_VLSB on the
#   SSD1306): width = 128, height = 64; fill(color), pixel(x, y[, color]),
#   hline(x, y, w, color), vline(x, y, h, color), line(x1, y1, x2, y2, color),
#   rect(x, y, w, h, color[, fill]), fill_rect(x, y, w, h, color), text(s, x, y[, color]).
#   The screens draw only with these calls, so framebuf.FrameBuffer (on the device), the
#   SSD1306 driver (a FrameBuffer subclass) and tools/screens/hostfb.HostFrameBuffer (on
#   the host) all give the same pixels. Colours are 0 and 1; everything clips at the
#   edges; text() uses the built-in 8x8 font and draws only the set pixels.
# Display: a Canvas on a screen: show() sends the frame; dim(dimmed) lowers the
#   brightness. Drawing changes nothing visible until show(); dim(True) keeps the
#   picture readable but dark (contrast down), dim(False) restores it. No bus traffic at
#   construction beyond the panel's init sequence.
# Key: a button as a plain callable: key() is True while it is pressed. The wiring's
#   inversion (active low with a pull-up) is applied by whoever builds the callable
#   (basalt.app.buttons.key_for_pin on a board, a fake in tests), so the decoder and the
#   menu never see electrical levels. Sampling must not block or allocate much: it runs
#   every 10 ms.
