"""Occlusion detection from the force on the plunger (pure; integers; time is an argument).

The app feeds update(now_ms, steps, force_mn) once per tick while insulin is being
delivered: the forward microsteps the motor did since the last call and one force
reading in mN. Force on an open line is the plunger's friction (with stick-slip), a
slow drift (temperature, friction along the barrel) and, while flow is fast, the
pressure the flow needs; on a blocked line every microstep compresses the fluid and
the drive train a little more, so the force keeps rising with the steps delivered.

  filtered   the reading through a low-pass filter (filter_ms)
  allowance  an upper bound on the open-line flow force: each step adds
             flow_umn_per_step, and it leaks away with time constant flow_ms. The real
             flow force obeys the same equation with a smaller gain and a shorter time
             constant, so it never exceeds this bound (implicit Euler decay, rounded up).
  baseline   friction + drift: follows the filtered force down (baseline_down_ms)
             and the filtered force minus the allowance up, no faster than drift_mn_h
  residual   filtered - baseline - allowance: what a blockage has to explain

Alarm: the residual exceeds threshold_mn (above the stick-slip band, the noise and the
drift the baseline has not caught up with) and then, while it stays above, at least
confirm_steps more steps raise the force by at least confirm_rise_mn and by at least
min_slope_umn_per_step per step - a force that rises with the volume pushed, not with
time. Sensor trouble is never "no occlusion": bad_reads failed or implausible readings
in a row raise a sensor fault.

On alarm the detector estimates what the blockage holds: the rise above the baseline
divided by the measured stiffness (slope of force against steps since the residual was
last below half the threshold)
is the compressed travel; backing the plunger off by that travel, plus the take-up to
reverse the plunger's friction through the drive train (2 x baseline / drive
stiffness), relieves the pressure, so clearing the blockage releases no bolus.
"""

from basalt.core.units import MS_PER_HOUR, shifted

OCCLUSION = "occlusion"
SENSOR_FAULT = "sensor_fault"

_FORCE_CAP = 20_000  # mN: the allowance and the differences the filters see stay small
_DT_CAP = 600_000  # ms: a longer gap is treated as 10 minutes by the trackers
_QUIET_MN = 50  # below this flow allowance a slower filter lags no flow force
_JUMP_CAP = 500  # mN: a stick-slip slip counts as this much noise at most
# The learned threshold: the band x _BAND_X4 / 4 + the noise x _NOISE_X + _MARGIN_MN.
_BAND_X4 = 6
_NOISE_X = 3
_MARGIN_MN = 50


class Config:
    """The detector's checked parameters as attributes: a name is stored once where each
    key string of a dict stayed in the heap. config[key] reads one too (the self-test)."""

    def __getitem__(self, key):
        return getattr(self, key)


def load_occlusion_config(obj=None, path="occlusion"):
    """Defaults overlaid with `obj`, checked, as a Config (basalt.core.occlusion_config:
    its table is needed at boot only, and device.start() forgets it)."""
    from basalt.core import occlusion_config

    return occlusion_config.load_occlusion_config(obj, path)


def _weight(dt, tau):
    """How far (of 256) a first-order filter with time constant tau moves in dt."""
    if tau <= 0:
        return 256
    dt = dt if dt < _DT_CAP else _DT_CAP
    return dt * 256 // (tau + dt)


def _clamp(value, limit):
    return -limit if value < -limit else limit if value > limit else value


def _clamp_in(value, lo, hi):
    return lo if value < lo else hi if value > hi else value


class OcclusionDetector:
    """Baseline, drift and flow tracking; confirmed alarms; sensor-fault counting."""

    def __init__(self, config=None):
        self.config = load_occlusion_config(config)
        self.alarm = None  # the latched alarm dict, until reset()
        self.news = False  # something was learned since the owner last looked
        self.forget()
        self.reset(0)

    def forget(self):
        """A new syringe or line: what was learned of the rig's flow is dropped."""
        cfg = self.config
        self.flow_gain = cfg.flow_umn_per_step  # the allowance in use (learned at
        self.flow_ms = cfg.flow_ms  # prime, else the reference mechanics')
        self.flow_learned = False

    def reset(self, now_ms, settle_steps=0):
        """Start afresh (delivery resumed, reservoir changed): re-learn the baseline,
        the noise and the stick-slip band of this run.

        The first settle_steps steps re-seat the drive train on the plunger (after a
        back-off): the baseline follows the force while they load it.
        """
        self.alarm = None
        self._settle = settle_steps if settle_steps > 0 else None
        self._settle_end = None
        self._last_ms = now_ms
        self.filtered = None
        self.baseline = 0
        self.allowance = 0
        self.steps = 0  # forward steps seen since reset
        self._up_acc = 0  # drift tracking remainder, mN*ms/h
        self._rise_steps = 0  # steps and filtered force when the residual was last
        self._rise_force = 0  # below half the threshold (ints: no tuple per tick)
        self._armed = None  # (steps, filtered) when the residual crossed the threshold
        self._bad = 0
        self._same = 0
        self._last_reading = None
        self._step_ms = now_ms  # when steps last came, and the time per step then
        self._pace = 0
        self.threshold = self.config.threshold_mn
        self.noise_mn = self.band_mn = self.drift_mn_h = None  # learned this run
        self._learn_n = 0 if self.config.learn_steps else -1  # readings; -1: done
        self._learn_ms = self._learn_base = self._learn_steps = 0  # drift: since when
        self._noise_acc = self._peak = 0

    def rebase(self, shift_ms):
        self._last_ms = shifted(self._last_ms, shift_ms)
        self._settle_end = shifted(self._settle_end, shift_ms)
        self._step_ms = shifted(self._step_ms, shift_ms)
        self._learn_ms = shifted(self._learn_ms, shift_ms)

    # ----- inputs -------------------------------------------------------------------

    def update(self, now_ms, steps, force_mn):
        """One reading after `steps` forward microsteps; an alarm dict or None."""
        if self.alarm is not None:
            return None
        dt = now_ms - self._last_ms
        self._last_ms = now_ms
        problem = self._implausible(force_mn)
        if problem is not None:
            return self.sensor_failed(now_ms, "implausible", problem)
        self._bad = 0
        self.steps += steps
        if self.filtered is None:
            self.filtered = self.baseline = force_mn
            self._rise_steps = self.steps
            self._rise_force = force_mn
            return None
        last = self.filtered
        self.filtered += (force_mn - last) * _weight(dt, self._filter_ms(now_ms, steps)) // 256
        if self._settle is not None:
            return self._settling(now_ms)
        self._leak(dt, steps)
        self._track_baseline(dt)
        alarm = self._judge(now_ms, steps)
        if alarm is None:
            if self._learn_n >= 0:
                self._learn(now_ms, force_mn - last)
            elif now_ms - self._learn_ms >= MS_PER_HOUR:  # the drift: the baseline's
                self.drift_mn_h = self.baseline - self._learn_base  # rise over an hour
                self._learn_ms, self._learn_base = now_ms, self.baseline
        return alarm

    def sensor_failed(self, now_ms, reason, detail):
        """A read that failed (timeout, saturated, ...); a fault after bad_reads in a row."""
        if self.alarm is not None:
            return None
        self._bad += 1
        if self._bad < self.config.bad_reads:
            return None
        return self._raise({"code": SENSOR_FAULT, "at_ms": now_ms, "reason": reason,
                            "detail": detail, "reads": self._bad})

    # ----- the rig's flow, learned at prime (basalt.core.occlusion_prime) --------------

    def learn_flow(self, gain, flow_ms):
        """The flow allowance a prime measured (None: it taught nothing)."""
        if gain is not None:
            self.flow_gain, self.flow_ms, self.flow_learned = gain, flow_ms, True
            self.news = True

    def learned(self):
        """What it learned (None: not yet), as plain data: the screen and the journal."""
        return {"threshold_mn": self.threshold, "noise_mn": self.noise_mn,
                "band_mn": self.band_mn, "drift_mn_h": self.drift_mn_h,
                "flow_umn_per_step": self.flow_gain, "flow_ms": self.flow_ms,
                "flow_learned": self.flow_learned}

    # ----- tracking -----------------------------------------------------------------

    def _implausible(self, force_mn):
        cfg = self.config
        if not isinstance(force_mn, int) or isinstance(force_mn, bool):
            return "a reading of %r, not an integer of mN" % (force_mn,)
        if not cfg.min_force_mn <= force_mn <= cfg.max_force_mn:
            return "%d mN is outside %d to %d mN" % (force_mn, cfg.min_force_mn,
                                                     cfg.max_force_mn)
        if self.filtered is not None and abs(force_mn - self.filtered) > cfg.max_jump_mn:
            return "%d mN jumps %d mN from %d mN" % (force_mn, force_mn - self.filtered,
                                                      self.filtered)
        if force_mn == self._last_reading:
            self._same += 1
            if cfg.stuck_reads and self._same >= cfg.stuck_reads:
                return "%d identical readings of %d mN (a live sensor is noisy)" % (
                    self._same + 1, force_mn)
        else:
            self._same = 0
            self._last_reading = force_mn
        return None

    def _filter_ms(self, now_ms, steps):
        """filter_ms, or at low rates the time filter_steps steps take (more readings
        averaged where the force moves slowly), once no flow force is left to lag."""
        if steps:
            pace = (now_ms - self._step_ms) // steps
            self._pace = pace if pace < _DT_CAP else _DT_CAP
            self._step_ms = now_ms
        tau = self._pace * self.config.filter_steps
        floor = self.config.filter_ms
        return tau if tau > floor and self.allowance < _QUIET_MN else floor

    def _learn(self, now_ms, jump):
        """The first learn_steps steps of a run: noise (mean successive difference of
        the readings) and the stick-slip band (the largest residual); the threshold
        follows what is seen, and is set at the end. (The drift is the baseline's rise
        in each hour after, shown and journaled: minutes of stick-slip do not show it.)"""
        cfg = self.config
        n = self._learn_n
        if n == 0:
            self._learn_steps = self.steps
        else:
            jump = -jump if jump < 0 else jump
            self._noise_acc += jump if jump < _JUMP_CAP else _JUMP_CAP
        self._learn_n = n = n + 1
        residual = self.residual()
        if residual > self._peak:
            self._peak = residual
        noise = self._noise_acc * 886 // (1000 * n)  # sigma = mean |difference| x 0.886
        learned = _clamp_in(self._peak * _BAND_X4 // 4 + _NOISE_X * noise + _MARGIN_MN,
                            cfg.threshold_min_mn, cfg.threshold_max_mn)
        self.threshold = learned if learned > cfg.threshold_mn else cfg.threshold_mn
        if self.steps - self._learn_steps < cfg.learn_steps or n < cfg.learn_reads:
            return
        self._learn_n = -1
        self.threshold = learned
        self.noise_mn, self.band_mn = noise, self._peak
        self._learn_ms, self._learn_base = now_ms, self.baseline
        self.news = True

    def _settling(self, now_ms):
        """Take-up loads the drive train and nothing flows: the baseline follows the
        force until the take-up is done and the filter has caught up (4 x filter_ms)."""
        self.baseline = self.filtered
        self._rise_steps = self.steps
        self._rise_force = self.filtered
        if self.steps > self._settle:
            if self._settle_end is None:
                self._settle_end = now_ms + 4 * self.config.filter_ms
            if now_ms >= self._settle_end:
                self._settle = None
        return None

    def _leak(self, dt, steps):
        """The flow allowance: decays (never faster than exp(-dt/tau)), then adds steps."""
        tau = self.flow_ms
        allowance = self.allowance
        if tau == 0:
            allowance = 0
        elif allowance:
            allowance = -(-allowance * tau // (tau + (dt if dt < _DT_CAP else _DT_CAP)))
        gain = self.flow_gain
        if gain and steps:
            cap = _FORCE_CAP * 1000 // gain + 1
            allowance += (steps if steps < cap else cap) * gain // 1000
        self.allowance = allowance if allowance < _FORCE_CAP else _FORCE_CAP

    def _track_baseline(self, dt):
        """Down towards the filtered force (flow force is never negative, so this never
        goes below friction + drift); up towards filtered - allowance, at drift speed."""
        cfg = self.config
        fall = _clamp(self.filtered - self.baseline, _FORCE_CAP)
        if fall < 0:
            self.baseline += fall * _weight(dt, cfg.baseline_down_ms) // 256
            self._up_acc = 0
            return
        gap = _clamp(self.filtered - self.allowance - self.baseline, _FORCE_CAP)
        if gap <= 0:
            return
        self._up_acc += cfg.drift_mn_h * (dt if dt < _DT_CAP else _DT_CAP)
        up = self._up_acc // MS_PER_HOUR
        if up >= gap:
            self.baseline += gap
            self._up_acc = 0
        else:
            self.baseline += up
            self._up_acc -= up * MS_PER_HOUR

    def residual(self):
        return self.filtered - self.baseline - self.allowance

    def _judge(self, now_ms, steps):
        cfg = self.config
        threshold = self.threshold
        residual = self.residual()
        if residual < threshold // 2:
            self._rise_steps = self.steps  # where a rise is measured from
            self._rise_force = self.filtered
        if residual < threshold:
            if residual < threshold // 2:
                self._armed = None  # fell back: stick-slip or noise, not a blockage
            return None
        if self._armed is None:
            self._armed = (self.steps, self.filtered)
            return None
        moved = self.steps - self._armed[0]
        rise = self.filtered - self._armed[1]
        if (moved < cfg.confirm_steps or rise < cfg.confirm_rise_mn
                or rise * 1000 < cfg.min_slope_umn_per_step * moved):
            return None
        return self._raise(self._occlusion(now_ms))

    def _occlusion(self, now_ms):
        """The alarm: force, rise, stiffness and how far to back the plunger off."""
        cfg = self.config
        drive = cfg.drive_umn_per_step
        rise = self.filtered - self.baseline
        moved = self.steps - self._rise_steps
        slope = (self.filtered - self._rise_force) * 1000 // moved if moved else drive
        slope = min(max(slope, cfg.min_slope_umn_per_step, 100), drive)
        compressed = max(rise, 0) * 1000 // slope
        takeup = 2 * max(self.baseline, 0) * 1000 // drive
        backoff = min(compressed + takeup, cfg.max_backoff_steps)
        # The drive train's own share of the compressed travel is not insulin.
        fluid = max(compressed - max(rise, 0) * 1000 // drive, 0)
        return {"code": OCCLUSION, "at_ms": now_ms, "force_mn": self.filtered,
                "baseline_mn": self.baseline, "rise_mn": rise,
                "slope_umn_per_step": slope, "compressed_steps": compressed,
                "fluid_steps": fluid, "takeup_steps": min(takeup, backoff),
                "backoff_steps": backoff}

    def _raise(self, alarm):
        self.alarm = alarm
        return alarm

    def state(self):
        """The tracked values, as plain data (the sim plots them, tests inspect them)."""
        return {"filtered_mn": self.filtered, "baseline_mn": self.baseline,
                "allowance_mn": self.allowance,
                "residual_mn": None if self.filtered is None else self.residual(),
                "armed": self._armed is not None, "rise_steps": self.steps - self._rise_steps,
                "steps": self.steps, "bad_reads": self._bad}
