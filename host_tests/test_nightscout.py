"""The Nightscout export and upload (tools/history/nsexport.py, upload.py): a day of
the simulator with every kind of dose, uploaded to a loopback stand-in that checks
Nightscout's field rules (tools/fake_nightscout.py), uploaded again (nothing
doubles), and read back by Nightscout's rules: the pump's delivered insulin per hour
is reproduced within one microstep (issue 19's acceptance figure)."""

import csv
import io
import json
from fractions import Fraction

import pytest

from basalt.core.units import PL_PER_MU
from basalt.storage.journal import Journal, bundle
from tools import history, sim
from tools.fake_nightscout import CHECKS, FakeNightscout
from tools.fake_storage import FakeStorage
from tools.history import __main__ as cli
from tools.history import nsexport, nsmodel

PROGRAM = "host_tests/scenarios/nightscout_day.json"
SECRET = "a-long-enough-secret"
DAY_START = "2026-12-06T00:00:00.000Z"


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """The scenario day: the recorder (the motor's hours) and the journal bundle."""
    storage = FakeStorage()
    recorder = sim.run(sim.load_program(PROGRAM), hours=24, tick_ms=5000, storage=storage)
    path = tmp_path_factory.mktemp("ns") / "journal.bin"
    path.write_bytes(bundle(storage))
    return recorder, path


@pytest.fixture
def site():
    server = FakeNightscout(SECRET).start()
    yield server
    server.stop()


def run_cli(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def shaped_day(day):
    return history.nightscout(history.load(str(day[1])), 0)


def by_type(shaped, event):
    return [t for t in shaped["treatments"] if t["eventType"] == event]


def test_upload_twice_then_the_site_reproduces_the_pumps_hours(day, site, capsys):
    recorder, path = day
    argv = ["upload", str(path), "--url", site.url, "--secret", SECRET, "--batch", "10"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert site.rejected == []
    treatments = site.stored["treatments"]
    assert len(treatments) == len(shaped_day(day)["treatments"]) > 20
    assert "treatments: 10 of %d sent" % len(treatments) in out  # progress, in batches
    assert "treatments %d new, 0 already there" % len(treatments) in out
    posts = [n for method, name, n in site.requests if method == "POST"]
    assert max(posts) == 10
    code, out, _ = run_cli(argv, capsys)  # again: nothing new, nothing doubled
    assert code == 0 and "treatments 0 new, %d already there" % len(treatments) in out
    assert len(site.stored["treatments"]) == len(treatments)
    # The acceptance figure: the site's treatments, read by Nightscout's rules, against
    # the motor's microsteps per hour (the simulator's count) and the journal's own.
    board = recorder.app.engine.board
    step_mu = Fraction(board.ustep_volume_pl, PL_PER_MU)
    first = history.parse_start(DAY_START)
    gaps = []
    for hour, (_, steps) in enumerate(recorder.hours):
        start = first + hour * 3_600_000
        site_mu = nsmodel.insulin_between(site.stored["treatments"], start,
                                          start + 3_600_000) * 1000
        gaps.append(abs(site_mu - float(steps * step_mu)) / float(step_mu))
    journal = nsexport.hourly_agreement(history.load(str(path)), 0, site.stored["treatments"])
    print("\nre-imported per hour vs the motor: largest gap %.3f microsteps (%d hours); "
          "vs the journal's hours: %.3f" % (max(gaps), len(gaps),
                                            max(abs(h[3]) for h in journal)))
    assert len(gaps) == 24 and max(gaps) < 1
    assert len(journal) == 24 and max(abs(h[3]) for h in journal) < 1
    # the journal alone knows the step volume to within a part in ten thousand
    volume = nsexport.microstep_pl(history.load(str(path)))
    assert abs(volume - board.ustep_volume_pl) / board.ustep_volume_pl < Fraction(1, 10_000)


def test_each_dose_takes_nightscouts_convention(day):
    shaped = shaped_day(day)
    meal = by_type(shaped, "Meal Bolus")
    assert [(t["carbs"], round(t["insulin"], 2), t["glucose"]) for t in meal] == [(45, 4.5, 160)]
    assert meal[0]["basalt"]["source"] == "calculator"  # the why, as journaled
    assert "glucoseType" not in meal[0]  # the journal did not say where 160 came from
    # the dual: its now part a bolus at 18:30, its extended part a Combo Bolus that
    # Nightscout spreads over the time it ran and leaves out of IOB at once
    combos = by_type(shaped, "Combo Bolus")
    assert [(c["created_at"][11:19], c["splitNow"], c["splitExt"], c["duration"])
            for c in combos] == [("12:30:00", 0, 100, 60.0), ("18:32:20", 0, 100, 180.0)]
    assert all("insulin" not in c for c in combos)
    assert round(combos[1]["enteredinsulin"], 2) == 3.5
    assert round(combos[1]["relative"], 4) == round(combos[1]["enteredinsulin"] / 3, 4)
    small = [t for t in by_type(shaped, "Correction Bolus") if t["programmed"] == 0.05]
    assert len(small) == 1 and abs(small[0]["insulin"] - 0.05) < 0.00145  # a microstep
    care = [(t["eventType"], t.get("glucose"), t.get("carbs")) for t in shaped["treatments"]
            if t["eventType"] in ("BG Check", "Carb Correction", "Site Change")]
    assert care == [("BG Check", 142, None), ("Carb Correction", None, 15),
                    ("BG Check", 65, None), ("Site Change", None, None)]


def test_basal_as_it_ran_with_suspends_and_stops(day):
    shaped = shaped_day(day)
    temps = by_type(shaped, "Temp Basal")
    suspends = [(t["created_at"][11:19], t["duration"], t["reason"]) for t in temps
                if t["type"] == "PUMP_SUSPEND"]
    assert suspends == [("00:00:00", 5.0, "not delivering"), ("10:04:40", 26 + 20 / 60,
                        "occlusion"), ("14:00:00", 20.0, "user")]  # records19's cause
    assert all(t["absolute"] == 0 for t in temps if t["type"] == "PUMP_SUSPEND")
    user_temp = [t for t in temps if t.get("percent") == -50]
    assert [(t["absolute"], t["duration"]) for t in user_temp] == [(0.45, 60.0)]  # cancelled
    # stretches follow each other with neither a gap nor an overlap
    ends = [(t["date"], t["date"] + t["durationInMilliseconds"]) for t in temps]
    assert all(a[1] == b[0] for a, b in zip(ends, ends[1:]))
    steps = dict(nsmodel.basal_steps(shaped["treatments"]))
    assert steps[history.parse_start("2026-12-06T14:00:00Z")] == 0  # drawn as given


def test_every_object_passes_the_sites_rules_and_identifiers_are_stable(day):
    first, again = shaped_day(day), shaped_day(day)
    for name, check in CHECKS.items():
        for obj in first[name]:
            check(obj)
    ids = [t["identifier"] for t in first["treatments"]]
    assert ids == [t["identifier"] for t in again["treatments"]] and len(set(ids)) == len(ids)
    keys = [(t["created_at"], t["eventType"]) for t in first["treatments"]]
    assert len(set(keys)) == len(keys)  # unique for servers without identifier too


def test_split_files_for_import_by_hand(day, tmp_path, capsys):
    code, out, err = run_cli(["export", str(day[1]), "--nightscout", "--out",
                              str(tmp_path)], capsys)
    assert code == 0 and "warning" not in err  # the clock was set on the pump
    for name in ("entries", "treatments", "devicestatus"):
        data = json.loads((tmp_path / (name + ".json")).read_text())
        assert isinstance(data, list)  # the body of its POST, as it is
    assert "within 0." in out and "microsteps" in out


def test_csv_keeps_every_field(day, capsys):
    code, out, _ = run_cli(["export", str(day[1]), "--csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    view = history.load(str(day[1]))
    assert code == 0 and len(rows) == len(view.records)
    for row, record in zip(rows, view.records):
        assert row["kind"] == record.kind and row["time_source"] == history.CLOCK_SET
        for key, value in record.detail.items():
            column = "detail_" + key if key in history.BASE_FIELDS else key
            assert row[column] == ("" if value is None else str(value)), (record.kind, key)


def test_a_pump_whose_clock_was_never_set(tmp_path, site, capsys):
    storage = FakeStorage()
    sim.run(sim.load_program(sim.DEFAULT_PROGRAM), hours=3, tick_ms=10_000, storage=storage)
    path = tmp_path / "journal.bin"
    path.write_bytes(bundle(storage))
    code, out, err = run_cli(["export", str(path), "--nightscout", "--out",
                              str(tmp_path / "ns")], capsys)
    assert code == 0 and "clock was never set" in err and history.DEFAULT_START[:10] in err
    treatments = json.loads((tmp_path / "ns" / "treatments.json").read_text())
    assert treatments and all(t["timeGuessed"] for t in treatments)
    argv = ["upload", str(path), "--url", site.url, "--secret", SECRET]
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and "give --start" in err and site.requests == []
    code, out, _ = run_cli(argv + ["--start", "2026-03-01T08:00:00Z"], capsys)
    assert code == 0 and site.stored["treatments"][0]["created_at"].startswith("2026-03-01")


def test_dry_run_sends_nothing_and_a_wrong_secret_is_named(day, site, capsys):
    code, out, _ = run_cli(["upload", str(day[1]), "--url", site.url, "--secret", SECRET,
                            "--dry-run"], capsys)
    assert code == 0 and site.requests == [] and "nothing sent" in out
    assert "Meal Bolus insulin 4.4997 carbs 45" in out
    assert "type PUMP_SUSPEND reason occlusion" in out and "Site Change 'site changed'" in out
    assert "/api/v1/treatments: %d objects" % len(shaped_day(day)["treatments"]) in out
    code, _, err = run_cli(["upload", str(day[1]), "--url", site.url, "--secret", "wrong"],
                           capsys)
    assert code == 1 and "refused the secret" in err and site.stored["treatments"] == []
    code, _, err = run_cli(["upload", str(day[1]), "--url", site.url], capsys)
    assert code == 2 and "--secret is required" in err
    code, _, err = run_cli(["upload", str(day[1]), "--url", "my-site", "--secret", SECRET],
                           capsys)
    assert code == 1 and "give the site's address" in err
    gone = FakeNightscout(SECRET).start()
    gone.stop()  # nothing listens there any more
    code, _, err = run_cli(["upload", str(day[1]), "--url", gone.url, "--secret", SECRET],
                           capsys)
    assert code == 1 and gone.url in err and "refused" in err.lower()


def loop_journal(tmp_path):
    """A hand-made journal of a looping hour: CGM readings, loop decisions (one with a
    temp, one with an automatic bolus), carbs for the loop and carbs from the
    calculator (already in its bolus). Records as branch `dose` writes them; the
    older ones simply lack fields."""
    storage = FakeStorage()
    journal = Journal(storage)
    journal.open(journal.read(), 1, 1)
    minute = 60_000
    journal.append("boot", {"cause": "power_on", "epoch_s": 1_796_515_200}, 0)
    for i, mg in enumerate((150, 158, 166)):
        journal.append("glucose", {"mg_dl": mg, "trend": 1_600}, (i * 5 + 1) * minute)
    journal.append("basal_rate", {"rate_mu_h": 800}, 0)
    journal.append("loop_decision", {
        "mode": "closed", "action": "temp", "rate_mu_h": 1600, "minutes": 30, "bolus_mu": 0,
        "reason": "eventual 190 above target", "glucose": 158, "iob_mu": 1200, "cob_g": 20,
        "eventual": 190, "prediction": [158, 170, 180, 190]}, 6 * minute)
    journal.append("temp_basal_started", {"rate_mu_h": 1600, "percent": None,
                                          "duration_min": 30, "source": "loop"}, 6 * minute)
    journal.append("basal_rate", {"rate_mu_h": 1600}, 6 * minute + 1000)
    journal.append("bolus_started", {"id": 1, "kind": "normal", "programmed_mu": 300,
                                     "now_mu": 300, "source": "loop"}, 11 * minute)
    journal.append("bolus_done", {"id": 1, "kind": "normal", "programmed_mu": 300,
                                  "delivered_steps": 207, "delivered_mu": 299},
                   11 * minute + 12_000)
    journal.append("loop_decision", {
        "mode": "closed", "action": "keep", "bolus_mu": 300, "reason": "rising", "glucose":
        166, "iob_mu": 1500, "cob_g": 18, "eventual": 200, "refused": None}, 11 * minute)
    journal.append("carbs", {"grams": 20, "source": "user"}, 2 * minute)
    journal.append("bolus_started", {"id": 2, "kind": "normal", "programmed_mu": 2000,
                                     "now_mu": 2000, "source": "calculator", "carbs_g": 24,
                                     "mg_dl": 166, "glucose_source": "cgm"}, 16 * minute)
    journal.append("carbs", {"grams": 24}, 16 * minute)  # older record: no source
    journal.append("bolus_done", {"id": 2, "kind": "normal", "programmed_mu": 2000,
                                  "delivered_steps": 1382, "delivered_mu": 2000}, 17 * minute)
    journal.append("basal_rate", {"rate_mu_h": 800}, 36 * minute)
    path = tmp_path / "loop.bin"
    path.write_bytes(bundle(storage))
    return path


def test_loop_decisions_reach_the_loop_pill_once(tmp_path, site, capsys):
    path = loop_journal(tmp_path)
    shaped = history.nightscout(history.load(str(path)), 0)
    assert [(e["sgv"], e["direction"]) for e in shaped["entries"]] == [
        (150, "FortyFiveUp"), (158, "FortyFiveUp"), (166, "FortyFiveUp")]
    first = shaped["devicestatus"][0]["openaps"]
    assert first["suggested"]["eventualBG"] == 190 and first["suggested"]["COB"] == 20
    assert first["iob"]["iob"] == 1.2 and first["enacted"]["rate"] == 1.6
    assert first["enacted"]["received"] is True
    assert first["suggested"]["predBGs"]["IOB"][:4] == [158, 158, 158, 170]
    assert "eventual 190 above target" in first["suggested"]["reason"]
    smb = [t for t in shaped["treatments"] if t.get("isSMB")]
    assert [(t["eventType"], t["type"]) for t in smb] == [("Correction Bolus", "SMB")]
    carbs = [(t["eventType"], t["carbs"]) for t in shaped["treatments"] if t.get("carbs")]
    assert carbs == [("Carb Correction", 20), ("Meal Bolus", 24)]  # 24 g counted once
    meal = [t for t in shaped["treatments"] if t["eventType"] == "Meal Bolus"][0]
    assert meal["glucoseType"] == "Sensor"
    loop_temp = [t for t in shaped["treatments"] if t.get("basal") == "temp"]
    assert [(t["absolute"], t["reason"]) for t in loop_temp] == [(1.6, "loop")]
    argv = ["upload", str(path), "--url", site.url, "--secret", SECRET]
    for _ in range(2):
        code, out, _ = run_cli(argv, capsys)
        assert code == 0, out
    assert site.rejected == [] and len(site.stored["devicestatus"]) == 2
    assert "devicestatus 0 new, 2 already there" in out and len(site.stored["entries"]) == 3


def test_plot_draws_what_nightscout_would(day):
    from tools.history.plot import rate_at, series

    data = series(history.load(str(day[1])), 0)
    at = {round(h, 3): rate for h, rate in data["basal"]}
    assert at[14.0] == 0 and at[round(14 + 1 / 3, 3)] == 0.9  # the user's suspend, then scheduled
    extended = by_type(shaped_day(day), "Combo Bolus")[0]["relative"]
    assert at[12.5] == pytest.approx(0.9 + extended, abs=1e-9)  # extended bolus on top
    assert extended == pytest.approx(2.0, abs=0.0015)
    # the extended part is its own area, on top of the basal that ran beneath it
    assert [rate_at(data["basal_temp"], h) for h in (12.4, 12.75, 13.6)] == [0.9] * 3
    assert rate_at(data["basal"], 13.6) == 0.9
    assert [(round(h, 2), g) for h, g in data["carbs"]] == [(7.5, 45), (16.5, 15)]
    assert [(round(h, 2), event) for h, _, event in data["boluses"]] == [
        (7.5, "Meal Bolus"), (18.5, "Correction Bolus"), (21.0, "Correction Bolus")]


def test_notes_say_in_words_who_stopped_and_who_resumed(day):
    treatments = shaped_day(day)["treatments"]
    suspends = [t["notes"] for t in treatments if t.get("type") == "PUMP_SUSPEND"]
    assert suspends[1].startswith("delivery stopped: occlusion")  # the 10:04 stop
    assert "delivery resumed (by the user) after: occlusion" in suspends[1]
    assert "suspended (by the user)" in suspends[2] and "resumed (by the user)" in suspends[2]
    notes = {t["notes"] for t in treatments if t["eventType"] in ("Note", "Insulin Change")}
    assert {"reservoir fitted with 200 U", "clock set on the pump (by the user)"} <= notes
    assert not [n for n in notes if "_mu" in n or "_steps" in n]  # no raw field names
    assert all(t["notes"] == t["notes"].strip() and " ;" not in t["notes"]
               for t in treatments if t.get("notes"))


def test_a_closed_loop_morning_uploads_with_its_loop_pill(tmp_path, site, capsys):
    """Two hours of a virtual patient on the loop, the CGM over (fake) Bluetooth, the
    pump keeping its journal (tools.sim loop-day --journal): readings, a decision every
    5 minutes and the loop's temps reach the site once, and its hours agree."""
    import asyncio

    from tools.sim import loop_day

    storage = FakeStorage()
    pump = asyncio.run(loop_day.simulate(loop_day.DEFAULT_PATIENT, 2, 1.0, 1, storage))[1]
    path = tmp_path / "loop.bin"
    path.write_bytes(bundle(storage))
    argv = ["upload", str(path), "--url", site.url, "--secret", SECRET, "--start", DAY_START]
    for _ in range(2):
        code, out, err = run_cli(argv, capsys)
        assert code == 0, err
    assert site.rejected == []
    stored = site.stored
    view = history.load(str(path))
    decisions = sum(r.kind == "loop_decision" for r in view.records)
    readings = sum(r.kind == "glucose" for r in view.records)
    assert len(stored["devicestatus"]) == decisions > 20 and len(stored["entries"]) == readings
    assert "devicestatus 0 new, %d already there" % decisions in out
    suggested = [s["openaps"]["suggested"] for s in stored["devicestatus"]]
    assert all(isinstance(s["eventualBG"], int) and s["reason"] for s in suggested)
    assert all(len(s["predBGs"]["IOB"]) > 12 for s in suggested if "predBGs" in s)
    assert sum(t.get("basal") == "temp" for t in stored["treatments"]) > 15
    hours = nsexport.hourly_agreement(view, history.parse_start(DAY_START),
                                      stored["treatments"], pump.board.ustep_volume_pl)
    print("\nloop morning: the site's hours vs the journal's: largest gap %.3f microsteps"
          % max(abs(h[3]) for h in hours))
    assert len(hours) == 2 and max(abs(h[3]) for h in hours) < 1


def test_another_uploaders_statuses_do_not_hide_ours(tmp_path, site, capsys):
    """Nightscout answers a GET with at most `count` objects: the site's devicestatus
    from another rig in the same hours must not push ours out of the answer (Nightscout
    inserts every devicestatus, so a status missed there would be stored twice)."""
    path = loop_journal(tmp_path)
    ours = history.nightscout(history.load(str(path)), 0)["devicestatus"]
    stamp = ours[0]["created_at"]
    site.stored["devicestatus"] = [{"device": "other-rig", "created_at": stamp,
                                    "openaps": {}} for _ in range(300)]
    argv = ["upload", str(path), "--url", site.url, "--secret", SECRET]
    for _ in range(2):
        code, out, err = run_cli(argv, capsys)
        assert code == 0, err
    mine = [s for s in site.stored["devicestatus"] if s["device"] == "basalt"]
    assert len(mine) == len(ours) == 2 and "devicestatus 0 new, 2 already there" in out
