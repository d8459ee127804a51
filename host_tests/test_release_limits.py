"""Property: whatever changes the schedule under a running temp basal or bolus (the clock
set, a profile switched or edited, settings applied with other limits, a segment
boundary reached as time passes), no limit is ever exceeded where insulin leaves the
pump.

Everything runs through PumpApp, the real composition, on FakeMotor and VirtualClock.
Delivery is measured from the motor (its forward travel at every tick), never from the
engine's or the gate's own counters. Checked, with the limits in force at the time:
  - basal rate: in every 5, 20 and 60-minute window without bolus activity, travel is at
    most max basal (and MAX_RATE_MU_H) for that long, plus SLACK microsteps
  - each bolus: programmed <= max bolus, and the travel while boluses run is at most
    what they were programmed plus max basal for that long
  - 60 minutes: travel <= max bolus in 60 min + max basal for 60 min
  - 24 hours: travel <= max daily insulin
"""

from bisect import bisect_left

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from basalt.app import PumpApp
from basalt.core.errors import BasaltError, ConfigError
from basalt.core.limits import MAX_RATE_MU_H
from basalt.core.settings import load_settings, parse_settings_text
from basalt.core.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, fmt_milli
from host_tests.test_journal_recovery import BOARD
from tools.fakes import FakeMotor, VirtualClock

TICK_MS = 1_000  # the engine is exact at any tick; 1 s keeps a 30 h example quick
SAMPLE_MS = 10_000  # the motor's travel is sampled every 10 ticks
COST = BOARD.ustep_volume_pl * 360  # one microstep in (mU/h x ms) = 1/360 pL
# The gate carries at most one microstep of unused basal budget; the motor may hold back
# one tick's steps and finish them a tick later.
SLACK = 2
with open(__file__.rsplit("host_tests", 1)[0] + "settings/example.json") as _f:
    EXAMPLE = parse_settings_text(_f.read())


def hhmm(minute):
    return "%02d:%02d" % (minute // 60, minute % 60)


def segments_user(segments):
    """[(minute, mU/h), ...] -> [["HH:MM", "U/h"], ...] as a user writes them."""
    return [[hhmm(m), fmt_milli(r)] for m, r in segments]


@st.composite
def segment_lists(draw, max_basal):
    starts = sorted(set([0] + draw(st.lists(st.integers(1, 47), max_size=3))))
    return [(s * 30, draw(st.integers(0, max_basal // 10)) * 10) for s in starts]


@st.composite
def therapy(draw):
    """A settings file (plain data) the validator accepts, with drawn limits and profiles."""
    # Rates up to 12.5 U/h (24 h at most 300 U, the highest max daily insulin); max basal
    # from just the highest rate (where a percent temp meets it soonest) to the 30 U/h
    # the pump allows.
    top = draw(st.one_of(st.sampled_from([1_000, 3_000, 12_500]),
                         st.integers(5, 1_250).map(lambda r: r * 10)))
    profiles = {"A": draw(segment_lists(top)), "B": draw(segment_lists(top))}
    highest = max(r for segs in profiles.values() for _, r in segs)
    factor = draw(st.sampled_from([100, 100, 100, 120, 150, 200, 250, 10_000]))
    max_basal = min(MAX_RATE_MU_H, max(50, highest * factor // 100))
    day_total = max(sum(r * ((segs + [(1440, 0)])[i + 1][0] - m) for i, (m, r) in
                        enumerate(segs)) // 60 for segs in profiles.values())
    bolus = draw(st.integers(10, 250)) * 100  # 1-25 U
    hourly = draw(st.integers(bolus // 10, 3 * bolus // 10)) * 10
    daily_lo = max(1_000, -(-day_total // 100) * 100)
    daily = draw(st.integers(daily_lo // 100, max(daily_lo, 300_000) // 100)) * 100
    obj = dict(EXAMPLE)
    obj["basal"] = {"active": draw(st.sampled_from(["A", "B"])),
                    "profiles": {k: segments_user(v) for k, v in profiles.items()}}
    obj["limits"] = {"max_bolus_u": fmt_milli(bolus), "max_basal_u_h": fmt_milli(max_basal),
                     "max_iob_u": fmt_milli(draw(st.integers(bolus // 100, 1_000)) * 100),
                     "max_bolus_60min_u": fmt_milli(hourly), "max_daily_u": fmt_milli(daily)}
    obj["reservoir"] = dict(obj["reservoir"], fill_u=300)
    return obj


permille = st.integers(1, 1_200)
actions = st.one_of(
    st.tuples(st.just("run"), st.integers(1, 180)),
    st.tuples(st.just("run"), st.integers(1, 30)),
    # The schedule changing under a temp basal is what is under test: drawn often.
    st.tuples(st.just("set_time"), st.integers(0, 1_439)),
    st.tuples(st.just("set_time"), st.integers(0, 47).map(lambda h: h * 30)),
    st.tuples(st.just("set_time_into"), st.integers(0, 3), st.integers(0, 29)),
    st.tuples(st.just("set_time_into"), st.integers(0, 3), st.integers(0, 29)),
    # A high percent temp, then the clock set into another segment at once.
    st.tuples(st.just("temp_then_clock"), st.integers(101, 250), st.integers(15, 240),
              st.integers(0, 3), st.integers(0, 29)),
    st.tuples(st.just("temp_percent"), st.integers(0, 250), st.integers(15, 720)),
    st.tuples(st.just("temp_percent"), st.integers(100, 250), st.integers(15, 720)),
    st.tuples(st.just("temp_percent"), st.integers(100, 250), st.integers(15, 120)),
    st.tuples(st.just("temp_percent"), st.integers(100, 250), st.integers(15, 45)),
    st.tuples(st.just("temp_rate"), permille, st.integers(15, 720)),
    st.tuples(st.just("bolus"), permille),
    st.tuples(st.just("extended"), permille, st.integers(15, 480)),
    st.tuples(st.just("dual"), permille, st.integers(1, 99), st.integers(15, 120)),
    st.tuples(st.just("activate"), st.sampled_from(["A", "B"])),
    st.tuples(st.just("edit"), st.sampled_from(["A", "B"]), st.lists(
        st.tuples(st.integers(0, 47), st.integers(0, 1_000)), min_size=1, max_size=4)),
    st.tuples(st.just("apply"), therapy()),
    st.tuples(st.sampled_from(["cancel_temp", "cancel_bolus", "suspend", "resume",
                               "refill"])),
)

# Each command is followed by a while of delivery (0 to 60 minutes).
steps = st.tuples(actions, st.one_of(st.integers(0, 10), st.integers(0, 60)))


class Rig:
    """The app, its motor, and what the motor did at every tick."""

    def __init__(self, obj):
        self.clock = VirtualClock()
        self.motor = FakeMotor(self.clock, BOARD.motor.max_step_hz)
        self.settings = load_settings(obj, BOARD)[0]
        self.app = PumpApp(BOARD, self.clock, self.motor, tick_ms=TICK_MS,
                           settings=self.settings)
        self.times = [0]
        self.travel = [0]
        self.limits = [self.settings.limits]  # in force at each sample
        self.bolus_active = [False]
        self.boluses = []  # (sample index, programmed mU, max bolus in force)
        self.refused = 0
        self.events = []  # (kind, detail) of everything the pump said
        self._busy = False

    def command(self, cmd):
        self.app.button_pressed()  # a user at the keys: auto-off does not fire
        try:
            self.app.command(cmd)
        except BasaltError:
            self.refused += 1
        self._events()

    def _events(self):
        for kind, detail in self.app.pop_events():
            self.events.append((kind, detail))
            if kind == "bolus_started":
                self._busy = True
                self.boluses.append((len(self.times), detail["programmed_mu"],
                                     self.app.settings.limits.max_bolus_mu))

    def run(self, ms):
        end = self.clock.now_ms() + ms
        while self.clock.now_ms() < end:
            self.clock.advance(TICK_MS)
            self.app.step()
            self._events()
            self._busy = self._busy or self.app.engine.bolus_running()
            now = self.clock.now_ms()
            if now % SAMPLE_MS == 0 or now == end:
                self.times.append(now)
                self.travel.append(self.motor.forward_travel())
                self.limits.append(self.app.settings.limits)
                self.bolus_active.append(self._busy)
                self._busy = self.app.engine.bolus_running()

    def act(self, action):
        kind = action[0]
        limits = self.app.settings.limits
        if kind == "run":
            self.run(action[1] * MS_PER_MIN)
        elif kind == "set_time":
            self.command({"cmd": "set_time", "time": hhmm(action[1])})
        elif kind == "set_time_into":  # a minute into one of the active profile's segments
            segments = self.app.engine.profiles.current().segments()
            start = segments[action[1] % len(segments)][0]
            self.command({"cmd": "set_time", "time": hhmm(start + action[2])})
        elif kind == "temp_then_clock":
            self.act(("temp_percent", action[1], action[2]))
            self.act(("set_time_into", action[3], action[4]))
        elif kind == "temp_percent":
            self.command({"cmd": "temp_basal", "minutes": action[2], "percent": action[1]})
        elif kind == "temp_rate":
            rate = limits.max_basal_mu_h * action[1] // 1_000
            self.command({"cmd": "temp_basal", "minutes": action[2],
                          "rate": fmt_milli(min(rate, MAX_RATE_MU_H))})
        elif kind in ("bolus", "extended", "dual"):
            amount = max(20, limits.max_bolus_mu * action[1] // 1_000 // 10 * 10)
            if kind == "bolus":
                self.command({"cmd": "bolus", "units": fmt_milli(min(amount, 25_000))})
            elif kind == "extended":
                self.command({"cmd": "extended_bolus", "units": fmt_milli(min(amount, 25_000)),
                              "minutes": action[2]})
            else:
                self.command({"cmd": "dual_bolus", "units": fmt_milli(min(amount, 25_000)),
                              "now_percent": action[2], "minutes": action[3]})
        elif kind == "activate":
            self.command({"cmd": "activate_profile", "name": action[1]})
        elif kind == "edit":
            starts = sorted(set([0] + [s for s, _ in action[2]]))
            rates = [p for _, p in action[2]] + [500] * 4
            segments = [(s * 30, limits.max_basal_mu_h * rates[i] // 1_000 // 10 * 10)
                        for i, s in enumerate(starts)]
            self.command({"cmd": "set_profile", "name": action[1],
                          "segments": segments_user(segments)})
        elif kind == "apply":
            try:
                self.app.apply_settings(load_settings(action[1], BOARD)[0])
            except ConfigError:
                self.refused += 1  # a file the validator refuses never reaches the pump
            except BasaltError:
                self.refused += 1  # refused: what runs now would break the new limits
            self._events()
        elif kind == "cancel_temp":
            self.command({"cmd": "cancel_temp_basal"})
        elif kind == "cancel_bolus":
            self.command({"cmd": "cancel_bolus"})
        elif kind == "suspend":
            self.command({"cmd": "suspend"})
        elif kind == "resume":
            self.command({"cmd": "resume"})
        elif kind == "refill":
            if self.app.engine.stop_reason is None:
                self.command({"cmd": "suspend"})
            self.command({"cmd": "new_reservoir", "units": 300})
            self.run(10 * TICK_MS)  # the rewind
            self.command({"cmd": "resume"})


def basal_steps(rate_mu_h, ms):
    """Microsteps a basal rate may deliver in ms (rounded down)."""
    return rate_mu_h * ms // COST


def check(rig):
    """Every limit, from the motor's travel; returns the worst basal rate seen (mU/h,
    over windows of at least 20 minutes) for the caller's curiosity."""
    times, travel, limits = rig.times, rig.travel, rig.limits
    n = len(times)
    # Lag: a bolus's last steps may reach the motor a tick or two after it ended.
    busy = list(rig.bolus_active)
    for i in range(n - 1, -1, -1):
        if rig.bolus_active[i]:
            for k in range(i, min(n, i + 3)):
                busy[k] = True
    busy_before = [0]
    changed_at = [0]  # index of the last limits change at or before each sample
    for i in range(1, n):
        busy_before.append(busy_before[-1] + busy[i])
        changed_at.append(i if limits[i] is not limits[i - 1] else changed_at[-1])
    peak = max(max(x.max_basal_mu_h for x in limits), 1)
    worst = 0
    for i in range(1, n):
        here = limits[i]
        for width in (5 * MS_PER_MIN, 20 * MS_PER_MIN, MS_PER_HOUR):
            j = bisect_left(times, times[i] - width)
            if times[i] - times[j] != width or changed_at[i] > j:
                continue
            got = travel[i] - travel[j]
            if busy_before[i] - busy_before[j] == 0:  # basal only in (t_j, t_i]
                allowed = basal_steps(min(here.max_basal_mu_h, MAX_RATE_MU_H), width)
                assert got <= allowed + SLACK, (
                    "basal %d steps in %d min at t=%d ms: max basal %d mU/h allows %d"
                    % (got, width // MS_PER_MIN, times[i], here.max_basal_mu_h, allowed))
                assert got <= basal_steps(MAX_RATE_MU_H, width) + SLACK
                if width >= 20 * MS_PER_MIN:
                    worst = max(worst, got * COST // width)
        j = bisect_left(times, times[i] - MS_PER_HOUR)
        hour_limits = here if changed_at[i] <= j else None
        hourly = (BOARD.usteps_for_mu(hour_limits.max_bolus_60min_mu) if hour_limits
                  else max(BOARD.usteps_for_mu(x.max_bolus_60min_mu) for x in limits))
        basal = (hour_limits.max_basal_mu_h if hour_limits else peak)
        assert travel[i] - travel[j] <= hourly + basal_steps(basal, MS_PER_HOUR) + SLACK
        j = bisect_left(times, times[i] - MS_PER_DAY)
        day_limits = here if changed_at[i] <= j else None
        daily = (day_limits.max_daily_mu if day_limits else max(x.max_daily_mu for x in limits))
        assert travel[i] - travel[j] <= BOARD.usteps_for_mu(daily) + SLACK, (
            "24 h: %d steps, max daily %d mU" % (travel[i] - travel[j], daily))
    # Boluses: each within max bolus; the travel while boluses run within what they were.
    starts = {}
    for index, programmed, maximum in rig.boluses:
        assert programmed <= maximum
        starts.setdefault(min(index, n - 1), []).append(programmed)
    i = 1
    while i < n:
        if not busy[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and busy[j + 1]:
            j += 1
        programmed = sum(sum(starts.get(k, ())) for k in range(i - 1, j + 1))
        got = travel[j] - travel[i - 1]
        allowed = (BOARD.usteps_for_mu(programmed) + basal_steps(peak, times[j] - times[i - 1])
                   + SLACK)
        assert got <= allowed, ("boluses %d steps for %d mU programmed" % (got, programmed))
        i = j + 1
    return worst


def run_script(obj, day_min, script):
    rig = Rig(obj)
    rig.command({"cmd": "set_time", "time": hhmm(day_min)})
    rig.command({"cmd": "new_reservoir", "units": 300})
    rig.command({"cmd": "resume"})
    for item in script:
        if isinstance(item[0], tuple):  # (action, minutes that pass after it)
            rig.act(item[0])
            rig.run(item[1] * MS_PER_MIN)
        else:
            rig.act(item)
    rig.run(20 * MS_PER_MIN)
    return rig, check(rig)


def issue_settings(max_basal_u_h, low, high):
    """The issue's case: a low segment until 06:00, a higher one until 12:00."""
    obj = dict(EXAMPLE)
    obj["basal"] = {"active": "A", "profiles": {
        "A": [["00:00", low], ["06:00", high], ["12:00", low]], "B": [["00:00", low]]}}
    obj["limits"] = dict(EXAMPLE["limits"], max_basal_u_h=max_basal_u_h, max_daily_u=300,
                         max_bolus_u=10, max_bolus_60min_u=15)
    obj["reservoir"] = dict(obj["reservoir"], fill_u=300)
    return obj


ISSUE_SCRIPT = [("temp_percent", 250, 240), ("set_time", 360), ("run", 120)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(therapy(), st.integers(0, 1_439), st.lists(steps, min_size=3, max_size=25))
# 250 % over 0.8 U/h, then the clock set into 1.5 U/h: 3.75 U/h against max basal 3 U/h.
@example(issue_settings("3", "0.8", "1.5"), 60, ISSUE_SCRIPT)
# The same path past the pump's own 30 U/h: 250 % over 10 U/h, then 15 U/h.
@example(issue_settings("30", "10", "15"), 60, ISSUE_SCRIPT)
# A profile switch, an edit and a boundary reached by time passing, under one temp.
@example(issue_settings("3", "0.8", "1.5"), 300,
         [("temp_percent", 250, 60), ("run", 90), ("temp_percent", 200, 600),
          ("edit", "A", [(0, 100), (20, 900)]), ("run", 240),
          ("activate", "B"), ("run", 30)])
def test_no_schedule_change_under_a_temp_or_bolus_exceeds_a_limit_at_the_motor(obj, day_min,
                                                                           script):
    run_script(obj, day_min, script)


def test_the_issue_case_is_capped_at_max_basal_and_says_so():
    rig = Rig(issue_settings("3", "0.8", "1.5"))
    for cmd in ({"cmd": "set_time", "time": "01:00"}, {"cmd": "new_reservoir", "units": 300},
                {"cmd": "resume"}, {"cmd": "temp_basal", "minutes": 240, "percent": 250}):
        rig.app.command(cmd)
    rig.app.pop_events()
    rig.app.command({"cmd": "set_time", "time": "06:00"})  # the clock is never refused
    events = rig.app.pop_events()
    capped = [d for kind, d in events if kind == "basal_capped"]
    assert capped and capped[0]["asked_mu_h"] == 3_750 and capped[0]["rate_mu_h"] == 3_000
    assert rig.app.engine.basal_rate_mu_h() == 3_000
    assert rig.app.engine.temp_basal()[1] == 250  # the temp runs on, capped
    start = rig.motor.forward_travel()
    rig.run(MS_PER_HOUR)
    delivered = rig.motor.forward_travel() - start
    assert basal_steps(3_000, MS_PER_HOUR) - 3 <= delivered <= basal_steps(3_000, MS_PER_HOUR)
    assert rig.app.engine.stop_reason is None  # capped, not stopped
    check(rig)


def test_the_gate_counts_basal_steps_against_the_rate_cap_at_release():
    """Defence in depth: an engine that computed too high a rate is held at the gate,
    stops with a max basal limit stop, and the pump raises a delivery fault."""
    rig = Rig(issue_settings("3", "0.8", "1.5"))
    for cmd in ({"cmd": "new_reservoir", "units": 300}, {"cmd": "resume"}):
        rig.app.command(cmd)
    rig.run(MS_PER_MIN)
    engine = rig.app.engine
    engine._basal_rate = 6_000  # what a faulty rate computation would deliver
    engine._basal_span = 0x3FFFFFFF // 6_000
    start = rig.motor.forward_travel()
    rig.run(30 * MS_PER_MIN)
    assert rig.motor.forward_travel() - start <= basal_steps(3_000, 30 * MS_PER_MIN) + SLACK
    assert engine.stop_reason == "limit reached: max basal"
    assert "delivery_fault" in rig.app.alarms.active()
    assert "daily_max" not in rig.app.alarms.active()
    kinds = [d.get("limit") for kind, d in rig.events if kind == "limit_reached"]
    assert kinds == ["max_basal"]


def test_a_steady_rate_at_max_basal_is_never_held_back():
    """The budget accrues with the engine's exact arithmetic: a temp at exactly max basal
    runs for a day of odd tick lengths without one step refused."""
    rig = Rig(issue_settings("3", "0.8", "1.5"))
    for cmd in ({"cmd": "new_reservoir", "units": 300}, {"cmd": "resume"},
                {"cmd": "temp_basal", "minutes": 1_440, "rate": 3}):
        rig.app.command(cmd)
    engine = rig.app.engine
    now = rig.clock.now_ms()
    for k in range(15_000):
        step = (k * 7_919) % 9_973 + 1  # 1 ms to 10 s, in no pattern
        rig.clock.advance(step)
        now += step
        rig.app.step()
        if k % 1_000 == 0:
            rig.app.button_pressed()  # keeps auto-off (12 h) away
    assert engine.stop_reason is None
    assert engine.basal_steps == basal_steps(3_000, now)  # the exact integral, all of it


def test_budget_unused_while_suspended_buys_no_burst_later():
    """The gate alone: an hour with nothing taken, then one second: the budget is one
    second at max basal plus the one microstep carried, not an hour's worth."""
    from basalt.core.safety import BASAL, Limits, SafetyGate

    gate = SafetyGate(Limits(10_000, 3_000, 20_000, 15_000, 80_000), FakeIobZero(), BOARD,
                      lambda kind, detail: None)
    gate.advance(0)
    gate.advance(MS_PER_HOUR)  # suspended: nothing taken
    gate.advance(MS_PER_HOUR + 1_000)
    assert basal_steps(3_000, 1_000) == 0  # 0.58 of a microstep in that second
    assert gate.take(BASAL, 1_000) == 1  # the one microstep carried, no more
    assert gate.limit_hit == "max_basal"
    gate.limit_hit = None
    gate.advance(2 * MS_PER_HOUR)  # the next hour's budget (with that second's fraction)
    assert gate.take(BASAL, 10_000) == basal_steps(3_000, MS_PER_HOUR)


class FakeIobZero:
    def iob_mu(self, now_ms):
        return 0


def test_the_cap_is_journaled_and_survives_a_reset_as_a_record():
    from basalt.core.safety import Limits
    from host_tests.test_journal_recovery import Pump

    pump = Pump(limits=Limits(10_000, 3_000, 20_000, 15_000, 80_000)).setup()  # 1 U/h, 2 U/h
    pump.app.command({"cmd": "temp_basal", "minutes": 60, "percent": 250})  # 2.5 U/h
    pump.app.command({"cmd": "set_time", "time": "12:00"})  # 5 U/h asked, max basal 3
    pump.run(60_000)
    assert pump.app.engine.basal_rate_mu_h() == 3_000
    pump.boot()
    capped = [r.detail for r in pump.records() if r.kind == "basal_capped"]
    assert capped == [{"asked_mu_h": 5_000, "rate_mu_h": 3_000, "limit": "max_basal"}]
