"""PumpView: what the screens show, as plain data the app fills in every tick.

The UI never calls the engine: it reads this object and emits commands. A capability
that is not built or not present leaves its fields None, and the screens say so
("no CGM", "--"); when it lands, the app fills the fields and the screens show it.
"""

# Trend arrows, as CGMs report them (Nightscout directions): -3 (double down) .. 3.
TREND_NAMES = ("DoubleDown", "SingleDown", "FortyFiveDown", "Flat", "FortyFiveUp",
               "SingleUp", "DoubleUp")

LOOP_OPEN = "open"  # manual therapy: scheduled basal, user boluses
LOOP_CLOSED = "closed"


class PumpView:
    def __init__(self):
        self.version = ""
        self.now_ms = 0
        self.clock_min = None  # pump time of day in minutes, or None (time not set)
        self.date_days = None  # the date in days since 1970, or None (not set)
        self.activity = None  # the running activity mode ("exercise", ...), or None
        self.activity_left_min = None
        # CGM (None: no CGM configured / no reading)
        self.glucose_mgdl = None
        self.trend = None  # -3..3, or None when the CGM sends no trend
        self.glucose_age_ms = None
        # the BLE CGM link (None: no client): its status line, security ("bonded", "not
        # paired", "refused", "unauthenticated"), the sensor's address, and a pairing
        # number waiting for the user's answer
        self.cgm_link = None
        self.cgm_security = None
        self.cgm_peer = None
        self.cgm_passkey = None
        # insulin on board (None until the IOB model exists)
        self.iob_mu = None
        # delivery
        self.stop_reason = "no reservoir"  # None while delivering
        self.basal_mu_h = 0  # delivered now
        self.active_profile = None
        self.profiles = ()  # saved profile names, sorted
        self.profile_segments = None  # profile_segments(name) -> [(minute, mU/h), ...]
        self.max_basal_mu_h = None  # the settings' max basal (None without settings)
        self.force_cal = None  # (tare counts, counts per N) of the force sensor, or None
        self.occlusion = None  # what the occlusion detector learned (a dict), or None
        self.temp_rate_mu_h = None  # absolute temp basal, or
        self.temp_percent = None  # percent temp basal
        self.temp_left_min = None  # None: no temp basal
        self.bolus_kind = None  # "normal" / "extended" / "dual" while a bolus runs
        self.bolus_programmed_mu = 0
        self.bolus_delivered_mu = 0
        self.reservoir_mu = None
        self.battery_pct = None
        self.loop = LOOP_OPEN
        self.loop_mode = None  # "off" / "suspend_only" / "closed" when the pump has a loop
        # alarms: most urgent first; each (code, acknowledged, snoozed)
        self.alarms = ()
        # the settings' max bolus (None without settings: the command table's bound)
        self.max_bolus_mu = None
        self.bolus_increment_mu = 100
        self.reservoir_capacity_mu = 300_000
        # history lines (newest first), settings lines: short ready-made text
        self.history = ()
        self.history_seen = -1  # the app's event count when history was last filled
        self.readings = ()  # CGM readings as history lines, newest first
        # the journal a page at a time: None, or open_journal() -> JournalPages
        self.open_journal = None
        self.reading_offset = -1
        self.settings = ()
        self.settings_of = None  # the Settings those lines show (the app's, when made)
        # the bolus calculator: None, or advise(carbs_g) -> (total_mu, [(label, mu)],
        # [note, ...]); it may raise a BasaltError (e.g. the CGM reading is too old)
        self.advise = None
        # glucose entry: the user's unit, the low threshold (a typed low offers carbs),
        # and whether the calculator has a glucose fit for dosing (CGM or typed)
        self.glucose_units = "mg/dL"
        self.low_mg_dl = 70
        self.bg_for_dosing = False
        # after a restart: the notes the user must acknowledge before delivery goes on
        self.boot_notes = None
        # a bolus interrupted by a reset: (delivered_lo_mu, delivered_hi_mu, programmed_mu)
        self.uncertain = None

    def bolus_running(self):
        return self.bolus_kind is not None

    def most_urgent(self):
        """The first alarm that is neither acknowledged nor snoozed, else None."""
        for code, acknowledged, snoozed in self.alarms:
            if not acknowledged and not snoozed:
                return code
        return None
