"""Alarm vectors for the MicroPython lane: the manager under random scripts (latching,
snooze, escalation, ordering, sounds), battery filtering, the infusion-set watch, the
pump monitor's rules over simulated days, and typed errors for bad codes and input."""

from basalt.core import command_engine
from basalt.core.alarms import CODES, PATTERNS, AlarmManager, banner
from basalt.core.board_file import load_board
from basalt.core.delivery import DeliveryEngine
from basalt.core.glucose_alerts import AlertSettings, GlucoseAlerts
from basalt.core.monitors import BatteryMonitor, InfusionSetWatch, PumpMonitor
from basalt.core.safety import Limits
from vectors.vectorkit import SIM_BOARD, FixedIob, Lcg, emit, error_of

BOARD = load_board(SIM_BOARD)


def pattern_id(pattern):
    for priority, by_level in enumerate(PATTERNS):
        for level, known in enumerate(by_level):
            if pattern is known:
                return [priority, level]
    return None


def manager_scripts():
    for seed in range(30):
        rng = Lcg(500 + seed)
        m = AlarmManager()
        now = 0
        out = []
        for _ in range(60):
            code = CODES[rng.below(len(CODES))]
            op = rng.below(6)
            if op == 0:
                result = error_of(m.raise_alarm, now, code, {"n": rng.below(100)})
            elif op == 1:
                result = error_of(m.clear, now, code)
            elif op == 2:
                result = error_of(m.acknowledge, now, code)
            elif op == 3:
                result = error_of(m.snooze, now, code)
            else:
                now += rng.below(40 * 60_000)
                m.evaluate(now)
                result = ["ok", None]
            out.append([op, code, result[0], m.most_urgent(), pattern_id(m.sounding(now))])
        emit("manager", [seed, out, m.active(), m.pop_events()])


def bad_codes():
    m = AlarmManager()
    for code in ("Occlusion", "", None, 7, "fire"):
        for action in (m.raise_alarm, m.acknowledge, m.snooze, m.clear):
            emit("bad_code", [str(code), error_of(action, 0, code)])
    emit("bad_detail", error_of(m.raise_alarm, 0, "occlusion", {"x": [1]}))
    emit("banners", [[code, list(banner(code))] for code in CODES])
    for cmd in ({"cmd": "acknowledge"}, {"cmd": "snooze", "alarm": "occlusion"},
                {"cmd": "acknowledge", "alarm": "occlusion", "x": 1}, "snooze"):
        emit("alarm_command", error_of(command_engine.apply_alarm, m, 0, cmd))


def batteries():
    for seed in range(10):
        rng = Lcg(900 + seed)
        monitor = BatteryMonitor(4_200, 3_500, 3_300)
        mv = 4_000
        levels = []
        for _ in range(300):
            mv += rng.below(21) - 12
            noisy = mv + rng.below(301) - 150
            levels.append(monitor.update(noisy))
        emit("battery", [seed, levels, monitor.filtered_mv, monitor.percent()])


def infusion_sets():
    for seed in range(20):
        rng = Lcg(1300 + seed)
        watch = InfusionSetWatch()
        now = 0
        glucose = 200 + rng.below(150)
        fired = []
        for step in range(80):
            now += 5 * 60_000
            if step % 20 == 3:
                watch.correction(now)
            glucose = max(40, min(400, glucose + rng.below(13) - 6))
            if watch.reading(now, glucose):
                fired.append(step)
        emit("infusion_set", [seed, fired, glucose])


class Settings:
    def __init__(self, low, auto_off, site, suspend, glucose):
        self.reservoir_low_mu = low
        self.auto_off_min = auto_off
        self.site_change_min = site
        self.suspend_reminder_min = suspend
        self.glucose_check_min = glucose


def monitor_days():
    for seed in range(8):
        rng = Lcg(1700 + seed)
        engine = DeliveryEngine(BOARD, 0, Limits(10_000, 3_000, 30_000, 15_000, 80_000),
                                FixedIob(0))
        engine.set_profile(0, "Day", [(0, 500 + rng.below(1_500))])
        engine.new_reservoir(0, 20_000 + 1_000 * rng.below(40))
        engine.resume(0)
        alarms = AlarmManager()
        monitor = PumpMonitor(engine, alarms, Settings(10_000 + 1_000 * rng.below(40),
                                                       (0, 300, 720)[rng.below(3)],
                                                       (0, 2_880)[rng.below(2)],
                                                       (0, 30)[rng.below(2)],
                                                       (0, 240)[rng.below(2)]), 0,
                              (4_200, 3_500, 3_300))
        now = 0
        for _ in range(400):
            now += 60_000 * (1 + rng.below(15))
            engine.tick(now)
            pick = rng.below(40)
            if pick == 0:
                monitor.button_pressed(now)
            elif pick == 1:
                error_of(engine.suspend, now)
            elif pick == 2:
                if error_of(monitor.require_resumable)[0] == "ok":
                    error_of(engine.resume, now)
            elif pick == 3:
                code = alarms.most_urgent()
                if code is not None:
                    error_of(alarms.acknowledge, now, code)
            elif pick == 4:
                monitor.glucose(now, 80 + rng.below(250), rng.below(2) == 0)
            elif pick == 5:
                monitor.battery_mv(now, 3_200 + rng.below(1_000))
            elif pick == 6:
                monitor.site_changed(now)
            monitor.evaluate(now)
        emit("monitor", [seed, engine.stop_reason, alarms.active(), alarms.pop_events(),
                         engine.pop_events()])


def glucose_alerts():
    """A random CGM trace, basal at zero or not, carbs for lows, acknowledgements."""
    for seed in range(12):
        rng = Lcg(2100 + seed)
        alarms = AlarmManager()
        alerts = GlucoseAlerts(alarms, AlertSettings(fall_mg_dl_min=(0, 2, 3)[rng.below(3)],
                                                     rise_mg_dl_min=(0, 2, 3)[rng.below(3)]))
        now = 0
        glucose = 60 + rng.below(200)
        for _ in range(300):
            now += 60_000
            if now % 300_000 == 0 and rng.below(10):
                glucose = max(40, min(400, glucose + rng.below(31) - 15))
                alerts.cgm(now, glucose, (rng.below(8_001) - 4_000), now, rng.below(4) > 0)
            alerts.basal(now, rng.below(30) > 0 if glucose < 100 else rng.below(30) == 0)
            pick = rng.below(25)
            if pick == 0:
                alerts.treated(now)
            elif pick == 1:
                alerts.fingerstick(now, glucose)
            elif pick == 2 and alarms.most_urgent() is not None:
                error_of(alarms.acknowledge, now, alarms.most_urgent())
            alerts.evaluate(now)
            alarms.evaluate(now)
        emit("glucose_alerts", [seed, alarms.active(), alarms.pop_events()])


manager_scripts()
bad_codes()
glucose_alerts()
batteries()
infusion_sets()
monitor_days()
