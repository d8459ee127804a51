"""The menu state machine: key events in, screens and plain-data commands out.

handle(now_ms, key, kind, view) takes one event from keys.ButtonDecoder; tick(now_ms,
view) runs the idle timers; draw(painter, view) paints the current screen;
pop_commands() gives the commands (basalt.core.commands format, including the alarm
commands ("acknowledge" / "snooze", {"alarm": code})) for the app to apply.

Rules that make an accidental dose impossible:
- select acts on release (SHORT), and only if that same press began while the current
  screen was showing ("armed"): the press that opened a confirm screen, a held key, or a
  bounce cannot confirm it, and each confirmation needs a new press and a release;
- doses are only emitted by a ConfirmScreen, which shows the amount it sends;
- while the screen is dimmed, a press only wakes it: the key is ignored until released;
- going idle dims the screen and drops back to home, so no confirm screen waits armed.
A long press of select (or back) goes home from anywhere; while a bolus runs it opens
"Stop bolus?", and a select press stops it: two presses from any screen.
After a restart with notes to acknowledge (view.boot_notes), the boot screen shows them
and stays until select sends ("boot_ack", {}).
"""

import sys

from basalt.core.ui.home import HomeScreen
from basalt.core.ui.keys import BACK, DOWN, LONG, PRESS, RELEASE, REPEAT, SELECT, SHORT, UP
from basalt.core.ui.screens import BootScreen, MessageScreen, StopBolusScreen
from basalt.core.units import shifted

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_DIM_MS = const(30_000)
_BOOT_MS = const(3_000)
# The menus and the screens they import as they open: imported when the main menu opens
# and forgotten when the screen is back home, so their bytecode is freed between uses.
# Forgotten by Menu.unload, which the app sets on a board (basalt.app.device.forget).
MENU_MODULES = ("basalt.core.ui.flows", "basalt.core.ui.flows_basal",
                "basalt.core.ui.flows_care", "basalt.core.ui.flows_cgm",
                "basalt.core.ui.flows_setup", "basalt.core.ui.forms",
                "basalt.core.ui.history_pages", "basalt.core.ui.history_detail",
                "basalt.core.ui.history", "basalt.storage.history_pages",
                "basalt.core.journal_records")


class Menu:
    def __init__(self, now_ms=0, has_back=True, version="", warning="", dim_ms=_DIM_MS,
                 boot_ms=_BOOT_MS):
        self.has_back = has_back
        self.version = version
        self.warning = warning
        self.dim_ms = dim_ms
        self.boot_ms = boot_ms
        self.home_screen = HomeScreen()
        self.stack = [self.home_screen]
        self.commands = []
        self.dimmed = False
        self.changed = True  # the screen needs a redraw
        self.confirm_hint = b"OK:yes  BACK:no" if has_back else b"OK:yes hold:no"
        self.stop_hint = b"hold OK: stop"
        self._armed = False
        self._ignored = [False, False, False, False]  # keys whose press only woke us
        self._last_input = now_ms
        self._boot_until = now_ms + boot_ms
        self._alarm = None
        self.pairing = None  # the CGM pairing number on screen (basalt.core.ui.flows_cgm)
        self.unload = None  # unload(names) forgets modules; None keeps them (a host)
        if boot_ms:
            self.push(BootScreen(version, warning))

    def rebase(self, shift_ms):
        self._last_input = shifted(self._last_input, shift_ms)
        self._boot_until = shifted(self._boot_until, shift_ms)

    # ----- the stack ---------------------------------------------------------------

    def top(self):
        return self.stack[-1]

    def push(self, screen):
        self.stack.append(screen)
        self._screen_changed()

    def pop(self):
        if len(self.stack) > 1:
            self.stack.pop()
        self._screen_changed()

    def replace(self, screen):
        self.stack[-1] = screen
        self._screen_changed()

    def home(self):
        del self.stack[1:]
        self._screen_changed()

    def _screen_changed(self):
        self._armed = False
        self.changed = True
        if self.unload is not None and len(self.stack) == 1 and MENU_MODULES[0] in sys.modules:
            self.unload(MENU_MODULES)  # home: no screen of theirs is left

    def open_main(self):
        from basalt.core.ui import flows

        self.push(flows.main_menu())

    def show_message(self, title, text):
        """A note over the current screen (e.g. why the pump refused a command)."""
        self.push(MessageScreen(title, text))
        self.wake(self._last_input)

    # ----- commands ----------------------------------------------------------------

    def emit(self, command):
        self.commands.append(command)

    def pop_commands(self):
        commands = self.commands
        self.commands = []
        return commands

    # ----- input -------------------------------------------------------------------

    def handle(self, now_ms, key, kind, view):
        """One key event (keys.PRESS, LONG, REPEAT, SHORT, RELEASE) at now_ms."""
        self._last_input = now_ms
        if self.dimmed:
            self.wake(now_ms)
            if kind != RELEASE:
                self._ignored[key] = True
            return
        if self._ignored[key]:
            if kind == RELEASE:
                self._ignored[key] = False
            return
        top = self.top()
        if isinstance(top, BootScreen) and top.warning_shown(view):
            if kind == PRESS:  # the warning: any key closes it, and only that
                self._ignored[key] = True
                self._end_splash(view)
            return
        self.changed = True
        if key == UP or key == DOWN:
            if kind == PRESS or kind == REPEAT:
                self.top().move(self, view, 1 if key == UP else -1, kind == REPEAT)
        elif key == SELECT:
            if kind == PRESS:
                self._armed = True
            elif kind == SHORT and self._armed:
                self._armed = False
                self.top().select(self, view)
            elif kind == LONG:
                self.escape(view)
        elif key == BACK:
            if kind == SHORT:
                self.pop()
            elif kind == LONG:
                self.escape(view)

    def escape(self, view):
        """Home from anywhere; straight to "Stop bolus?" while a bolus runs."""
        self.home()
        if view.bolus_kind is not None:
            self.push(StopBolusScreen())

    # ----- time --------------------------------------------------------------------

    def tick(self, now_ms, view):
        """Idle dimming, the boot screen's timeout, waking for an alarm."""
        booting = isinstance(self.top(), BootScreen)
        if view.boot_notes is not None:
            # After a restart: nothing else until the notes are seen (the clock screens
            # the boot screen opens wait above it).
            if not self._boot_below():
                self.home()
                self.push(BootScreen(self.version, self.warning, splash=False))
        if booting and now_ms - self._boot_until >= 0 and self.top().warning_shown(view):
            self._end_splash(view)
        if (view.cgm_passkey is not None or self.pairing is not None) and not booting:
            from basalt.core.ui.flows_cgm import watch_prompt

            watch_prompt(self, now_ms, view)
        alarm = view.most_urgent()
        if alarm is not None and (alarm != self._alarm or self.dimmed):
            self.wake(now_ms)  # an alarm nobody has acknowledged keeps the screen lit
        self._alarm = alarm
        if now_ms - self._last_input >= self.dim_ms:
            if len(self.stack) > 1 and view.boot_notes is None:
                # No screen waits half-filled (or armed) for a passer-by; the boot
                # notes stay (dimmed) until they are acknowledged.
                self.home()
            if alarm is None and not self.dimmed:
                self.dimmed = True
                self.changed = True

    def idle_ms(self, now_ms):
        return now_ms - self._last_input

    def _end_splash(self, view):
        """The warning has been shown: the notes follow it, or the home screen."""
        if view.boot_notes is None:
            self.pop()
        else:
            self.top().splash = False
            self.changed = True

    def _boot_below(self):
        for screen in self.stack:
            if isinstance(screen, BootScreen):
                return True
        return False

    def wake(self, now_ms):
        if self.dimmed:
            self.dimmed = False
            self.changed = True
        self._last_input = now_ms

    # ----- output ------------------------------------------------------------------

    def draw(self, painter, view):
        painter.begin()
        self.top().draw(painter, view, self)
        self.changed = False
