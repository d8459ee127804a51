"""Therapy vectors for the MicroPython lane: settings, the insulin curve, IOB and the bolus
calculator must print the same lines on CPython and MicroPython. Integers and text only."""


from basalt.core import calculator
from basalt.core.board_file import load_board
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import BasaltError
from basalt.core.insulin import PRESETS, InsulinModel, iob_fraction
from basalt.core.iob import DeliveryFeed, IobTracker
from basalt.core.safety import Limits
from basalt.core.settings import load_settings, parse_settings_text
from vectors.vectorkit import SETTINGS_TEXT, SIM_BOARD, Lcg, emit

M = 60_000
H = 3_600_000




def error_of(call, *args):
    try:
        call(*args)
        return "ok"
    except BasaltError as error:
        return [type(error).__name__, str(error)]


# ----- the insulin curve ------------------------------------------------------------

emit("iob_fraction_ppm", [int(iob_fraction(t, 75, 360) * 1_000_000 + 0.5)
                          for t in (0, 30, 60, 120, 180, 240, 300, 359, 360)])
for _name, peak in PRESETS:
    for duration in (300, 360, 480):
        model = InsulinModel(peak, duration)
        digest = 0
        for value in model.table:
            digest = (digest * 31 + value) & 0xFFFFFFF
        emit("table", [peak, duration, len(model.table), digest,
                       [model.left(ms) for ms in (0, 1, 29_999, 45 * M + 7, 90 * M,
                                                  duration * M - 1, duration * M)]])

# ----- settings -------------------------------------------------------------------

GOOD = parse_settings_text(SETTINGS_TEXT)
settings, warnings = load_settings(GOOD)
emit("settings_summary", settings.summary())
emit("settings_warnings", warnings)
limits, alarms = settings.limits, settings.alarms
emit("settings_limits", [limits.max_bolus_mu, limits.max_basal_mu_h, limits.max_iob_mu,
                         limits.max_bolus_60min_mu, limits.max_daily_mu])
emit("settings_alarms", [alarms.reservoir_low_mu, alarms.auto_off_min, alarms.site_change_min,
                         alarms.suspend_reminder_min, alarms.glucose_check_min])
emit("settings_schedules", [settings.carb_ratio.segments(), settings.sensitivity.segments(),
                            settings.targets.segments(),
                            settings.basal_profiles.profiles["Day"].segments()])


def bad(path, value):
    obj = parse_settings_text(SETTINGS_TEXT)
    node = obj
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return error_of(load_settings, obj)


emit("settings_bad", [
    bad(("version",), 3),
    bad(("limits", "max_bolus_u"), 25.01),
    bad(("limits", "max_basal_u_h"), 1),
    bad(("alarms", "auto_off_h"), None),
    bad(("bolus", "colour"), "red"),
    bad(("carb_ratio_g_per_u",), [["00:30", 10], ["00:15", 5]]),
    bad(("target_mg_dl",), [["00:00", 150, 120]]),
    bad(("insulin",), {"type": "custom", "duration_h": 9}),
    bad(("basal", "profiles", "Day"), [["00:00", 0.8], ["06:00", "x"], ["05:00", 1]]),
])
# The JSON parser's own words differ between interpreters: compare up to them.
emit("settings_not_json", error_of(parse_settings_text, "{ nope")[1].split(" (")[0])

# ----- the tracker: 48 h of deliveries ---------------------------------------------

rng = Lcg(7)
iob = IobTracker(InsulinModel(75, 360))
samples = []
for minute in range(48 * 60):
    iob.add_basal(minute * M + rng.below(M), rng.below(30), 13)
    if rng.below(200) == 0:
        iob.add_bolus(minute * M + rng.below(M), 100 + rng.below(8_000))
    if minute % 97 == 0:
        now = minute * M + rng.below(M)
        samples.append([now, iob.iob_mu(now), iob.bolus_iob_mu(now), iob.activity_mu_h(now)])
emit("tracker_48h", samples)
emit("tracker_after", [iob.iob_mu(48 * H + k * H) for k in range(8)])

# ----- fed by the engine --------------------------------------------------------------

# The widest limits the safety gate accepts: these vectors are about IOB, not limits.
WIDE = Limits(25_000, 30_000, 100_000, 75_000, 1_000_000)
engine = DeliveryEngine(load_board(SIM_BOARD), 0, WIDE, IobTracker(InsulinModel(55, 300)), 0)
engine.set_profile(0, "P", [(0, 800), (360, 1200)])
engine.new_reservoir(0, 200_000)
engine.resume(0)
fed = IobTracker(InsulinModel(55, 300))
feed = DeliveryFeed(fed, engine, 0)
now = 0
rows = []
for step in range(600):
    now += 250 + rng.below(30_000)
    if step == 100:
        engine.bolus(now, 2_500)
    if step == 300:
        engine.suspend(now)
    engine.tick(now)
    feed.update(now)
    if step % 50 == 0:
        rows.append([now, fed.iob_mu(now), fed.bolus_iob_mu(now), engine.bolus_steps])
emit("feed", rows)

# ----- the calculator -------------------------------------------------------------


class Fixed:
    def __init__(self, bolus, net):
        self.bolus, self.net = bolus, net

    def bolus_iob_mu(self, now_ms):
        return self.bolus

    def iob_mu(self, now_ms):
        return self.net


NOW = 50 * H
for carbs, glucose, minute, bolus_iob, net_iob in (
        (60, 210, 480, 0, 0), (60, 210, 480, 3_000, 3_000), (47, 110, 720, 0, 0),
        (130, 300, 480, 0, 0), (60, 82, 480, 0, 0), (60, 65, 480, 0, 0), (19, 200, 1380, 0, 0),
        (60, 110, 480, 0, 15_000), (0, None, 0, 500, -300)):
    out = calculator.suggest(settings, Fixed(bolus_iob, net_iob), NOW, minute * M, carbs,
                             glucose)
    emit("calc", out)
for carbs, glucose, bolus_iob, net_iob in ((60, 210, 0, 0), (60, 110, 500, 1_500),
                                          (60, 82, 0, 2_000), (0, 300, 1_000, 400)):
    emit("calc_looping", calculator.suggest(settings, Fixed(bolus_iob, net_iob), NOW, 480 * M,
                                            carbs, glucose, looping=True))
emit("calc_cgm", calculator.suggest(settings, Fixed(0, 0), NOW, 480 * M, 10,
                                    cgm=(180, NOW - 5 * M)))
emit("calc_bad", [
    error_of(calculator.suggest, settings, Fixed(0, 0), NOW, 0, 401),
    error_of(calculator.suggest, settings, Fixed(0, 0), NOW, 0, "ten"),
    error_of(calculator.suggest, settings, Fixed(0, 0), NOW, 0, 10, 601),
    error_of(calculator.suggest, settings, Fixed(0, 0), NOW, 0, 10, None, (150, NOW - 16 * M)),
    error_of(calculator.suggest, settings, Fixed(0, 0), NOW, 0, 10, None, None, {}),
])
emit("confirm", calculator.confirm({"max_bolus_mu": 10_000}, "4.35"))
