"""tools.history: pull with mpremote from a board whose app is not running (injected
runner and a fake mpremote on PATH; pull through the running app: test_usb_service.py),
CSV and Nightscout export, the plot, simulator journals, and bad files."""

import csv
import io
import json
import os
import stat
import sys

import pytest

from basalt.core import journal as jnl
from basalt.storage.journal import Journal, bundle
from tools import history, pump_link, sim
from tools.fake_storage import FakeStorage
from tools.history import __main__ as cli
from tools.history import pull

EPOCH_S = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def sim_bundle(tmp_path_factory):
    storage = FakeStorage()
    sim.run(sim.load_program(sim.DEFAULT_PROGRAM), hours=24, tick_ms=5000, storage=storage)
    path = tmp_path_factory.mktemp("sim") / "journal.bin"
    path.write_bytes(bundle(storage))
    return path


def cgm_journal(tmp_path, boots=2):
    """A small journal with glucose and a boot that knows the wall clock."""
    storage = FakeStorage()
    for boot in range(1, boots + 1):
        journal = Journal(storage, segment_bytes=300)
        journal.open(journal.read(), boot, journal.read().next_seq())
        epoch = EPOCH_S if boot == 1 else None
        journal.append("boot", {"cause": "power_on", "epoch_s": epoch}, 0)
        for i, (mg, trend) in enumerate([(110, 0), (140, 2_000), (90, -4_000)]):
            journal.append("glucose", {"mg_dl": mg, "trend": trend}, 300_000 * (i + 1))
        journal.append("alarm", {"code": "occlusion"}, 1_000_000)
    path = tmp_path / "cgm.bin"
    path.write_bytes(bundle(storage))
    return path, storage


def app_not_running(port):
    """The pump link when the board's REPL answers (no app): pull falls back to mpremote."""
    raise pump_link.NotRunning("the pump app is not running on %s" % port)


def run_cli(argv, capsys, runner=None):
    code = cli.main(argv, runner=runner, link_factory=app_not_running)
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_export_of_a_simulator_journal(sim_bundle, capsys):
    code, out, err = run_cli(["export", str(sim_bundle), "--csv"], capsys)
    assert code == 0 and "the pump's clock was never set in boot 1" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["kind"] == "boot" and rows[0]["time"] == "2026-01-01T00:00:00.000Z"
    assert {r["time_source"] for r in rows} == {history.GUESSED}
    done = [r for r in rows if r["kind"] == "bolus_done"]
    assert [int(d["programmed_mu"]) for d in done] == [4500, 5250, 7000]
    assert [d["detail_kind"] for d in done] == ["normal", "normal", "dual"]
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))


def test_nightscout_export_has_the_reference_field_names(sim_bundle, tmp_path, capsys):
    code, out, _ = run_cli(["export", str(sim_bundle), "--nightscout", "--out",
                            str(tmp_path)], capsys)
    assert code == 0 and "wrote %s" % (tmp_path / "treatments.json") in out
    treatments = json.loads((tmp_path / "treatments.json").read_text())
    boluses = [t for t in treatments if "insulin" in t or "enteredinsulin" in t]
    assert [t["eventType"] for t in boluses] == ["Correction Bolus"] * 3 + ["Combo Bolus"]
    assert [round(t.get("insulin", t.get("enteredinsulin")), 2) for t in boluses] == [
        4.5, 5.25, 3.5, 3.5]  # the dual: its now part, then its extended part
    assert boluses[0]["created_at"] == "2026-01-01T07:30:00.000Z"
    assert boluses[3]["duration"] == 180 and boluses[3]["splitExt"] == 100
    temps = [t for t in treatments if t["eventType"] == "Temp Basal" and "percent" in t]
    assert temps[0]["duration"] == 90 and temps[0]["percent"] == -50
    assert temps[0]["absolute"] == 0.45  # what ran, whatever the site's profile says


def test_nightscout_entries_and_wall_clock_anchoring(tmp_path):
    path, _ = cgm_journal(tmp_path)
    view = history.load(str(path))
    shaped = history.nightscout(view, history.parse_start("2030-01-01T00:00:00Z"))
    entries = shaped["entries"]
    assert [e["sgv"] for e in entries] == [110, 140, 90] * 2
    assert [e["direction"] for e in entries[:3]] == ["Flat", "SingleUp", "DoubleDown"]
    first = entries[0]
    assert set(first) == {"type", "sgv", "date", "dateString", "direction", "device"}
    assert first["date"] == EPOCH_S * 1000 + 300_000  # boot 1 knew the wall clock
    assert first["dateString"] == "2026-01-01T00:05:00.000Z"
    # boot 2 did not: it follows on from boot 1's last record, flagged as a guess
    assert entries[3]["date"] == EPOCH_S * 1000 + 1_000_000 + 300_000
    assert entries[3]["timeGuessed"] is True
    notes = [t for t in shaped["treatments"] if t["eventType"] == "Note"]
    assert notes[0]["notes"].startswith("alarm: occlusion")


def test_a_clock_set_on_the_pump_places_its_boot(tmp_path):
    storage = FakeStorage()
    journal = Journal(storage)
    journal.open(journal.read(), 1, 1)
    journal.append("boot", {"cause": "power_on", "epoch_s": None}, 0)
    journal.append("glucose", {"mg_dl": 120, "trend": 0}, 60_000)
    journal.append("clock_set", {"days": EPOCH_S // 86_400, "minute": 8 * 60}, 120_000)
    path = tmp_path / "j.bin"
    path.write_bytes(bundle(storage))
    view = history.load(str(path))
    [(when, _, source)] = [p for p in history.placed(view, 0) if p[1].kind == "glucose"]
    assert source == history.CLOCK_SET and history.clock_warning(view, 0) is None
    assert history.iso(when) == "2026-01-01T07:59:00.000Z"  # a minute before it was set
    # the pump keeps local time: at UTC+01:00 that was 06:59 UTC
    [(when, _, _)] = [p for p in history.placed(view, history.Start(0, history.parse_offset(
        "+01:00"))) if p[1].kind == "glucose"]
    assert history.iso(when) == "2026-01-01T06:59:00.000Z"
    assert history.parse_offset("-05:30") == -330 * 60_000
    with pytest.raises(history.HistoryError, match="--utc-offset 'CET'"):
        history.parse_offset("CET")


def test_plot_writes_a_png(sim_bundle, tmp_path, capsys):
    out = tmp_path / "h.png"
    code, text, _ = run_cli(["plot", str(sim_bundle), "--out", str(out)], capsys)
    assert code == 0 and "wrote" in text
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_plot_series(tmp_path, sim_bundle):
    from tools.history.plot import series

    data = series(history.load(str(sim_bundle)), 0)
    assert data["glucose"] == [] and 23.9 < data["end"] <= 24
    assert [round(b[0], 2) for b in data["boluses"]] == [7.5, 12.5, 18.5]  # at their start
    assert (15.0, 0.45) in [(round(h, 2), r) for h, r in data["basal"]]  # the 50 % temp
    dual = [t for t in history.nightscout(history.load(str(sim_bundle)), 0)["treatments"]
            if t["eventType"] == "Combo Bolus"][0]
    assert (18.54, round(1.1 + dual["relative"], 6)) in [  # its extended part on top
        (round(h, 2), round(r, 6)) for h, r in data["basal"]]
    path, _ = cgm_journal(tmp_path)
    data = series(history.load(str(path)), 0)
    assert len(data["glucose"]) == 6 and "occlusion" in [n[1][7:16] for n in data["notes"]]


# ----- pull ------------------------------------------------------------------------

class FakeBoard:
    """mpremote as seen from the tool: fs ls and fs cp of the board's /data."""

    def __init__(self, storage):
        self.storage = storage
        self.calls = []

    def __call__(self, args):
        self.calls.append(args)
        assert args[:2] == ["connect", "/dev/ttyACM0"]
        if args[2:4] == ["fs", "ls"]:
            lines = ["ls :/data"] + ["%12d %s" % (self.storage.size(n), n)
                                     for n in self.storage.names()]
            return "\n".join(lines) + "\n"
        if args[2:4] == ["fs", "cp"]:
            name = args[4].rsplit("/", 1)[1]
            with open(args[5], "wb") as handle:
                handle.write(self.storage.read(name))
            return ""
        raise AssertionError(args)


def test_pull_copies_every_segment_and_writes_a_bundle(tmp_path, capsys):
    _, storage = cgm_journal(tmp_path, boots=3)
    storage.write("settings.json", b"{}")
    board = FakeBoard(storage)
    code, out, _ = run_cli(["pull", "--port", "/dev/ttyACM0", "--out",
                            str(tmp_path / "pulled")], capsys, runner=board)
    assert code == 0 and "pulled 15 records" in out
    segments = sorted(os.listdir(tmp_path / "pulled" / "segments"))
    assert segments == sorted(n for n in storage.names() if n.endswith(".jnl"))
    assert (tmp_path / "pulled" / "journal.bin").read_bytes() == bundle(storage)
    assert not any("settings.json" in " ".join(call) for call in board.calls)


def test_pull_through_a_fake_mpremote_on_path(tmp_path, monkeypatch):
    _, storage = cgm_journal(tmp_path, boots=1)
    board_dir = tmp_path / "board"
    board_dir.mkdir()
    for name in storage.names():
        (board_dir / name).write_bytes(storage.read(name))
    fake = tmp_path / "bin" / "mpremote"
    fake.parent.mkdir()
    fake.write_text(
        "#!%s\nimport os, shutil, sys\nargs = sys.argv[1:]\nroot = %r\n"
        "if args[2:4] == ['fs', 'ls']:\n"
        "    print('ls :/data')\n"
        "    for n in sorted(os.listdir(root)): print('%%12d %%s' %% (1, n))\n"
        "elif args[2:4] == ['fs', 'cp']:\n"
        "    shutil.copy(os.path.join(root, args[4].rsplit('/', 1)[1]), args[5])\n"
        "else:\n    sys.exit('unexpected: %%s' %% args)\n" % (sys.executable, str(board_dir)))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ["PATH"])
    assert pull.mpremote_command() == [str(fake)]
    path = pull.pull("/dev/ttyACM0", str(tmp_path / "out"), link_factory=app_not_running)
    assert len(history.load(path).records) == 5


def test_pull_reports_mpremote_failures(tmp_path, capsys):
    def broken(args):
        raise pull.PullError("mpremote connect /dev/nope fs ls :/data failed (exit 1): "
                             "no device found")

    code, _, err = run_cli(["pull", "--port", "/dev/nope", "--out", str(tmp_path)], capsys,
                           runner=broken)
    assert code == 1 and "no device found" in err
    empty = FakeBoard(FakeStorage())
    code, _, err = run_cli(["pull", "--port", "/dev/ttyACM0", "--out", str(tmp_path)],
                           capsys, runner=empty)
    assert code == 1 and "no journal segments in /data" in err


# ----- bad files -----------------------------------------------------------------------

def test_random_bytes_are_refused_clearly(tmp_path, capsys):
    path = tmp_path / "noise.bin"
    path.write_bytes(bytes(range(256)) * 8)
    code, out, err = run_cli(["export", str(path), "--csv"], capsys)
    assert code == 1 and out == ""
    assert "holds no readable history: 2048 bytes, none of them a journal record" in err


def test_a_truncated_file_exports_what_was_committed_with_a_warning(sim_bundle, tmp_path,
                                                                   capsys):
    data = sim_bundle.read_bytes()
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:-7])
    code, out, err = run_cli(["export", str(path), "--csv"], capsys)
    full = len(history.load(str(sim_bundle)).records)
    assert code == 0 and len(out.strip().splitlines()) == full  # header + all but one
    assert "warning: skipped" in err and "damaged bytes" in err


def test_a_journal_from_a_newer_firmware_is_named_not_guessed(tmp_path, capsys):
    newer = jnl.encode_header(1, 1, version=jnl.FORMAT_VERSION + 1) + b"\xb5" * 50
    path = tmp_path / "newer.bin"
    path.write_bytes(newer)
    code, _, err = run_cli(["export", str(path), "--nightscout"], capsys)
    assert code == 1 and "newer firmware (journal format 2" in err


def test_missing_files_and_bad_start_times(tmp_path, sim_bundle, capsys):
    code, _, err = run_cli(["export", str(tmp_path / "nope.bin"), "--csv"], capsys)
    assert code == 1 and "nope.bin" in err and "No such file" in err
    code, _, err = run_cli(["export", str(sim_bundle), "--csv", "--start", "yesterday"],
                           capsys)
    assert code == 1 and "--start 'yesterday': not an ISO date" in err


def test_a_folder_of_segments_reads_like_the_bundle(tmp_path):
    path, storage = cgm_journal(tmp_path)
    folder = tmp_path / "segs"
    folder.mkdir()
    for name in storage.names():
        (folder / name).write_bytes(storage.read(name))
    a = [(r.seq, r.kind) for r in history.load(str(folder)).records]
    b = [(r.seq, r.kind) for r in history.load(str(path)).records]
    assert a == b and len(a) == 10


def test_simulator_cli_writes_a_journal(tmp_path):
    from tools.sim import __main__ as sim_cli

    out = tmp_path / "o"
    code = sim_cli.main(["--hours", "2", "--no-plot", "--out", str(out), "--journal",
                         str(out / "journal.bin")])
    assert code == 0
    kinds = [r.kind for r in history.load(str(out / "journal.bin")).records]
    assert kinds[:2] == ["boot", "boot_acknowledged"] and "resumed" in kinds
