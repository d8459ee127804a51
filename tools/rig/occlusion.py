"""`python -m tools.rig occlusion`: the IEC 60601-2-24 occlusion test on the rig.

The pump delivers at --rate into the beaker; the user closes the stopcock when told;
the tool polls the pump (its USB service) until the occlusion alarm stops delivery and
reports, as IEC asks: the time from the occlusion to the alarm, the force (the pump's
pressure figure) at the alarm, and the bolus released when the line is reopened, which
the balance weighs. The alarm's own figures (the firmware's filtered force, its
baseline, the fluid it held) come from the pump's status.
"""

from tools import trumpet
from tools.rig.accuracy import prime
from tools.rig.pump import RigError

POLL_S = 5.0


def occlusion(bench, rate_u_h, settle_min=5, max_min=300, release_s=60, prime_first=True,
              prime_step_u=0.5, prime_max_u=20.0):
    """The test; a facts dict (complete unless facts["interrupted"] or an error)."""
    facts = {"rate_u_h": rate_u_h, "density_g_ml": bench.density, "interrupted": False}
    pump = bench.pump
    try:
        if prime_first:
            facts["prime_u"] = prime(bench, prime_step_u, prime_max_u)
        pump.run_at(rate_u_h, settle_min + max_min + 10)
        bench.say("rig: delivering %g U/h for %g min before the occlusion" % (rate_u_h,
                                                                             settle_min))
        bench.clock.sleep(settle_min * 60)
        pump.check_running()
        before = _stable(bench, "settled")
        bench.ask_operator("close", "close the stopcock to the beaker (the line is occluded)")
        t_close = bench.now()
        alarm, t_alarm = _wait_for_alarm(bench, t_close, max_min)
        closed = _stable(bench, "alarm")
        bench.ask_operator("open", "open the stopcock to the beaker again (the occlusion "
                                   "is cleared)")
        bench.clock.sleep(release_s)
        after = _stable(bench, "released")
    except KeyboardInterrupt:
        facts["interrupted"] = True
        bench.status.end()
        bench.say("rig: interrupted (Ctrl-C)")
        return facts
    finally:
        stopped = pump.stop()
        bench.say("rig: the pump is %s; acknowledge its alarm on the pump"
                  % ("stopped" if stopped else "NOT confirmed stopped: check it"))
    board = pump.board
    facts.update({
        "time_to_alarm_min": round((t_alarm - t_close) / 60, 3),
        "force_at_alarm_n": alarm["force_mn"] / 1000,
        "baseline_force_n": alarm["baseline_mn"] / 1000,
        "held_by_the_line_u": board.mu_for_usteps(alarm["fluid_steps"]) / 1000,
        "backoff_usteps": alarm["backoff_steps"],
        "beaker_while_occluded_mg": round((closed - before) * 1000, 3),
        "bolus_ul": round((after - closed) / bench.density * 1000, 3),
        "bolus_u": round((after - closed) / bench.density / trumpet.ML_PER_UNIT, 4),
        "release_s": release_s,
    })
    return facts


def _stable(bench, phase):
    grams = bench.weigh(phase, tries=10)
    bench.log(phase, grams, bench.pump.moved())
    if grams is None:
        raise RigError("no stable balance reading at the %s step" % phase)
    return grams


def _wait_for_alarm(bench, t_close, max_min):
    """(the pump's occlusion alarm, its time on the rig's clock)."""
    while bench.now() - t_close <= max_min * 60:
        bench.clock.sleep(POLL_S)
        status = bench.pump.status()
        alarm = status.get("occlusion")
        elapsed = bench.now() - t_close
        bench.status.update(elapsed, "rig: occluded %6.1f min, force %s"
                            % (elapsed / 60, _newtons(status.get("force_mn"))))
        if status["stop"] == "occlusion" and alarm:
            bench.status.end()
            t_alarm = bench.now() - (status["ms"] - alarm["at_ms"]) / 1000
            bench.say("rig: occlusion alarm %.1f min after the stopcock closed, at %.3f N"
                      % ((t_alarm - t_close) / 60, alarm["force_mn"] / 1000))
            return alarm, t_alarm
        if status["stop"] is not None:
            raise RigError("the pump stopped for another reason: %s" % status["stop"])
    raise RigError("no occlusion alarm %g min after the stopcock closed (IEC: commercial "
                   "pumps alarm within 5 h at 1 U/h); is the stopcock closed?" % max_min)


def _newtons(mn):
    return "-" if mn is None else "%.3f N" % (mn / 1000)


def occlusion_text(facts):
    return "\n".join([
        "Occlusion test on the rig (IEC 60601-2-24 method), %g U/h" % facts["rate_u_h"],
        "time to the alarm     %.1f min from the occlusion" % facts["time_to_alarm_min"],
        "force at the alarm    %.3f N (baseline %.3f N)" % (facts["force_at_alarm_n"],
                                                           facts["baseline_force_n"]),
        "held by the line      %.3f U at the alarm (the pump's estimate); backed off %d "
        "microsteps" % (facts["held_by_the_line_u"], facts["backoff_usteps"]),
        "beaker while occluded %+.3f mg" % facts["beaker_while_occluded_mg"],
        "bolus on reopening    %.2f uL = %.3f U (weighed over %d s)"
        % (facts["bolus_ul"], facts["bolus_u"], facts["release_s"])])

