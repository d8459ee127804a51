"""The power-cut bench's fault kinds: flash faults beyond a cut at a write point.

Each kind plays the scripted day (tools.bench.powercut) with one fault, reboots when the
fault calls for it, and is judged against the uncut day of its own settings mode:

  torn_write      the power cut at any byte of the day's writes (not one per write:
                  a byte drawn over all of them), the rest of the write lost or noise
  bit_flip        one bit of one file inverted, then a clean power-off: by thirds, any
                  file the pump writes (in turn: journal segments, checkpoint slots,
                  settings.json, basal.json and their .sum) at any moment; the newest
                  checkpoint slot right after one of the day's commands (in turn); a
                  journal record that holds insulin or a stop at any moment
  enospc_partial  from a moment on, writes above N bytes fail with ENOSPC (16-600;
                  small ones succeed: a nearly full flash), a reboot later, still full
  full_flash      from a moment on every write fails with ENOSPC, a reboot later
  dead_flash      from a moment on every write fails with EIO, a reboot later
  settings_cut    the pump runs on a real settings file (settings/example.json through
                  basalt.core.settings.load_settings); the power cut at a byte of the
                  writes of a settings save (limits changed three times a day, the
                  basal profile edit)

Half of bit_flip runs and every enospc_partial, full_flash, dead_flash and
settings_cut run use the real settings file (a settings save is then ~1.6 KB, larger
than any journal record). Per kind it counts:

  runs             runs of the day
  over_deliveries  runs whose plunger travelled further than in the fault-free day
  double_boluses   boluses running again after a reboot, or started by nobody
  lost_records     committed records lost silently (a journal record whose append
                   returned is missing and no boot screen named its file as damaged;
                   or settings that lie: a boot loads settings other than the last the
                   user was told were saved, or the pump runs on settings its file does
                   not hold)
  forgotten_iob_mu bolus insulin on board a reboot forgot (mU, over all reboots)
  crashes          runs in which an exception other than the project's typed errors
                   escaped the firmware (a task would have died)
"""

import random

from basalt.core import checkpoint as ckp
from basalt.core import journal as jnl
from basalt.core import journal_records
from basalt.core.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from tools import sim
from tools.bench import powercut, progress
from tools.fake_storage import FakeStorage, PowerCut

KINDS = ("torn_write", "bit_flip", "enospc_partial", "full_flash", "dead_flash",
         "settings_cut")
FIELDS = ("runs", "over_deliveries", "double_boluses", "lost_records", "forgotten_iob_mu",
          "crashes")
REAL = {"torn_write": False, "enospc_partial": True, "full_flash": True,
        "dead_flash": True, "settings_cut": True}
SEED = 18  # issue 18

_board = None


def board():
    global _board
    if _board is None:
        _board = sim.load_sim_board()
    return _board


def write_points(real):
    """The fault-free day of one settings mode: (run, [(start, size, at_ms, in a
    settings save?)])."""
    storage = FakeStorage()
    sizes = []
    original = storage._land
    run = powercut.Run(board(), storage, real=real)

    def land(data):
        sizes.append((storage.position, len(data), run.world.now_ms(), run.in_settings))
        return original(data)

    storage._land = land
    run.forward_total = run.play()
    return run, sizes


def plan(per_kind, references, kinds):
    """[(kind, index, real, params)]: per_kind runs of each kind, drawn from one seed."""
    jobs = []
    for kind in kinds:
        rng = random.Random("%s-%d" % (kind, SEED))
        for i in range(per_kind):
            real = REAL.get(kind, i % 2 == 1)
            sizes = references[real][1]
            if kind == "torn_write":
                total = sizes[-1][0] + sizes[-1][1]
                params = (rng.randrange(total), rng.random() < 0.5)
            elif kind == "settings_cut":
                points = []
                for start, size, _, saving in sizes:
                    if saving:
                        points.append((start, size))
                total = sum(size for _, size in points)
                pick = rng.randrange(total)
                for start, size in points:
                    if pick < size:
                        params = (start + pick, rng.random() < 0.5)
                        break
                    pick -= size
            elif kind == "bit_flip":
                # By thirds: any file at any moment; the newest checkpoint slot right
                # after one of the day's commands; a record that holds insulin or a
                # stop (a bolus, a suspend, a temp basal, a reservoir) at any moment.
                how = ("any_file", "newest_checkpoint", "critical_record")[i % 3]
                params = (how, rng.randrange(10 * MS_PER_MIN, MS_PER_DAY - 10 * MS_PER_MIN),
                          i // 3, rng.random())
            else:
                at = rng.randrange(5 * MS_PER_MIN, 23 * MS_PER_HOUR)
                later = min(MS_PER_DAY - MS_PER_MIN,
                            at + rng.randrange(5 * MS_PER_MIN, 6 * MS_PER_HOUR))
                limit = rng.randrange(16, 601) if kind == "enospc_partial" else 0
                params = (at, later, limit)
            jobs.append((kind, i, real, params))
    return jobs


def _flip(storage, turn, fraction, flipped):
    def hook(run):
        names = [name for name in sorted(storage.files) if storage.files[name]]
        name = names[turn % len(names)]
        storage.flip(name, int(fraction * len(storage.files[name]) * 8))
        flipped.append(name)
        raise PowerCut("a clean power-off after a bit flip in " + name)

    return hook


CRITICAL = ("bolus_started", "bolus_done", "bolus_cancelled", "bolus_part_done", "stopped",
            "resumed", "temp_basal_started", "temp_basal_done", "reservoir_fitted",
            "bolus_interrupted", "boot")


def records_at(storage):
    """[(file, start byte, end byte, Record)] of every readable journal record."""
    out = []
    for name in sorted(storage.files):
        if jnl.segment_number(name) is None:
            continue
        data = bytes(storage.files[name])
        pos = jnl.HEADER_SIZE
        while pos < len(data):
            found = journal_records.record_at(data, pos)
            if found is None:
                pos += 1
                continue
            out.append((name, pos, found[1], found[0]))
            pos = found[1]
    return out


def flip_record(kinds, fraction, flipped):
    """A hook: one bit of a record of one of `kinds` (the one `fraction` picks among
    those written so far) inverted, then a clean power-off."""
    def hook(run):
        storage = run.storage
        found = [entry for entry in records_at(storage) if entry[3].kind in kinds]
        if found:
            name, start, end, _ = found[int(fraction * len(found))]
            bit = start * 8 + int(fraction * 7919) % ((end - start) * 8)
            storage.flip(name, bit)
            flipped.append(name)
        raise PowerCut("a clean power-off after a bit flip in a journal record")

    return hook


def flip_newest_checkpoint(fraction, flipped):
    """A hook: one bit of the newest valid checkpoint slot inverted, then a clean
    power-off (the older slot is what a boot finds)."""
    def hook(run):
        storage = run.storage
        best = None
        for name in ckp.SLOTS:
            ck, _ = ckp.decode(storage.read(name))
            if ck is not None and (best is None or ck["counter"] > best[1]):
                best = (name, ck["counter"])
        if best is not None:
            storage.flip(best[0], int(fraction * ckp.SIZE * 8))
            flipped.append(best[0])
        raise PowerCut("a clean power-off after a bit flip in the newest checkpoint")

    return hook


def _fail_from(storage, kind, limit):
    def hook(run):
        if kind == "dead_flash":
            storage.fail_writes = OSError(5, "EIO: flash does not answer")
        else:
            storage.enospc_above = limit

    return hook


def _power_off(run):
    raise PowerCut("a clean power-off")


def one(job, reference_forward):
    """Findings of one run: ({field: count}, the file a bit flip hit or None)."""
    kind, _, real, params = job
    hooks = []
    flipped = []
    day = None
    if kind in ("torn_write", "settings_cut"):
        storage = FakeStorage(params[0], params[1], seed=params[0])
    else:
        storage = FakeStorage()
        if kind == "bit_flip":
            how, at, turn, fraction = params
            if how == "any_file":
                hooks.append((at, _flip(storage, turn, fraction, flipped)))
            elif how == "critical_record":
                hooks.append((at, flip_record(CRITICAL, fraction, flipped)))
            else:
                day = list(powercut.REAL_DAY if real else powercut.DAY)
                commands = [entry for entry in day if isinstance(entry[1], dict)
                            or entry[1][0] == "settings"]
                entry = commands[turn % len(commands)]
                day.append((entry[0], ("hook", flip_newest_checkpoint(fraction, flipped))))
        else:
            hooks.append((params[0], _fail_from(storage, kind, params[2])))
            hooks.append((params[1], _power_off))
    run = powercut.Run(board(), storage, real=real, hooks=hooks,
                       day=day if kind == "bit_flip" and params[0] == "newest_checkpoint"
                       else None)
    run.forward_total = run.play()
    return judge(run, reference_forward), (flipped[0] if flipped else None)


def judge(run, reference_forward):
    """The per-kind figures of one finished run."""
    found = {"runs": 1, "over_deliveries": 0, "double_boluses": run.double_boluses,
             "lost_records": run.settings_lies, "forgotten_iob_mu": run.forgotten_iob_mu,
             "crashes": 0}
    if run.crash is not None:
        found["crashes"] = 1
        return found
    if run.forward_total > reference_forward:
        found["over_deliveries"] = 1
    view, error = powercut.read_back(run.storage)
    if error is not None:
        found["crashes"] = 1
        return found
    present = {(r.boot, r.seq): r.kind for r in view.records}
    for boot, seq, kind in run.committed:
        if present.get((boot, seq)) != kind and \
                run.committed_file.get((boot, seq)) not in run.reported_files:
            found["lost_records"] += 1  # missing, and no boot screen named its file
    for record in view.records:
        if record.kind == "bolus_started" and \
                (record.boot, record.detail.get("id")) not in run.started_by_user:
            found["double_boluses"] += 1
    return found


def _job(args):
    job, reference_forward = args
    return one(job, reference_forward)


def _file_class(name):
    return "journal segments" if name.endswith(".jnl") else name


def run(per_kind=200, jobs=1, kinds=None):
    """{"kinds": {kind: figures}, "bit_flip_files": {file: runs}} (kinds: KINDS)."""
    kinds = KINDS if kinds is None else kinds
    progress.phase("the fault-free days (open limits, real settings)")
    references = {False: write_points(False), True: write_points(True)}
    work = plan(per_kind, references, kinds)
    forward = {real: references[real][0].forward_total for real in references}
    args = [(job, forward[job[2]]) for job in work]
    progress.phase("fault kinds", len(args), "runs")
    results = []
    if jobs > 1:
        from multiprocessing import Pool

        with Pool(jobs) as pool:
            for pair, found in zip(work, pool.imap(_job, args, chunksize=4)):
                results.append((pair[0], found))
                progress.advance()
    else:
        for pair in args:
            results.append((pair[0][0], _job(pair)))
            progress.advance()
    figures = {kind: {field: 0 for field in FIELDS} for kind in kinds}
    flipped = {}
    for kind, (found, name) in results:
        for field in FIELDS:
            figures[kind][field] += found[field]
        if name is not None:
            flipped[_file_class(name)] = flipped.get(_file_class(name), 0) + 1
    return {"kinds": figures, "bit_flip_files": flipped}
