"""What PumpApp does seldom (a clock epoch every few days, a settings save, the bolus
calculator): loaded for the call and forgotten after it (basalt.call_and_forget), so
a running pump keeps none of this code between uses. Each takes the app first."""

from basalt.core.errors import NotAllowedNow


def rebase(app, shift_ms):
    """PumpApp.rebase: the clock and every stored time back by shift_ms."""
    app.collect()  # every reader has seen the events of the old epoch
    app.clock.rebase(shift_ms)
    for part in (app.engine, app.iob, app.iob_feed, app.alarms, app.monitor,
                 app.motion, app.occlusion, app.cgm_watch, app.loop_runner,
                 app.stream, app.ticker, app.keeper, app.buzzer, app.alerts,
                 app.activity, app.care):
        if part is not None:
            part.rebase(shift_ms)
    app.recent.rebase(shift_ms, app.stream)
    for part in app.timed:
        part.rebase(shift_ms)
    return app.clock.now_ms()


def apply_settings(app, settings):
    """PumpApp.apply_settings: a settings file saved while running, applied whole."""
    now = app.clock.now_ms()
    app.monitor.check_settings(settings.alarms)
    app.engine.set_limits(now, settings.limits, settings.basal_profiles.copy())
    app.engine.bolus_speed_mu_min = settings.bolus_speed_mu_min
    app.iob.set_model(settings.insulin_model())
    app.monitor.set_settings(settings.alarms)
    app._alert_settings(settings)
    app.loop_runner.replace(settings)
    app.settings = settings
    app.collect()


def suggest_bolus(app, carbs_g, glucose_mg_dl, cgm, uncertain_bolus):
    """PumpApp.suggest_bolus: the bolus calculator at the current time."""
    if app.settings is None:
        raise NotAllowedNow("bolus calculator", "no therapy settings are loaded")
    if not app.engine.time_known:
        raise NotAllowedNow("bolus calculator", "set the clock first: the ratios "
                            "follow the time of day")
    if uncertain_bolus is None and app.keeper is not None:
        uncertain_bolus = app.keeper.uncertain
    now = app.clock.now_ms()
    app.iob_feed.update(now)  # count what a command since the last tick delivered
    loop = app.loop_runner.loop
    looping = loop is not None and loop.in_control(now)
    from basalt.core import calculator  # loaded when the calculator is first used

    return calculator.suggest(app.settings, app.iob, now, app.engine.day_ms(),
                              carbs_g, glucose_mg_dl, cgm, uncertain_bolus, looping)
