// OpenAPS (oref0 0.7.1, the pinned npm package) as a long-lived process: one JSON
// request per line on stdin, one JSON answer per line on stdout.
//
//   {"op": "profile", "inputs": {...}}  -> {"profile": {...}}  oref0's own generator
//       (lib/profile) with its defaults, the fields of `inputs` overriding them
//   {"op": "decide", "clock": ISO, "glucose": [...], "history": [...], "carbs": [...],
//    "profile": {...}, "currenttemp": {...}, "autosens": {"ratio": r}, "microbolus": bool}
//       -> {"iob": {...}, "meal": {...}, "suggested": {...}}
//   {"op": "step", "session": id, "open": {"profile": {...}, "glucose_keep": n} (the
//    first step only), "clock": ISO, "since": ms, "history": [[serial, ms, record], ...],
//    "carbs": [[ms, entry], ...], "glucose": [...], "suspended": record or null,
//    "target": mg/dL or null, "currenttemp": {...}, "microbolus": bool}
//       -> the answer of "decide" for the inputs the session holds now: a session keeps
//       the profile, glucose, history and carbs, and a step brings only what changed
//       (records added or amended, by serial; those older than `since` are dropped;
//       the newest glucose_keep readings are kept), so a decision does not send, and
//       parse, the whole history again. oref0 writes into its inputs (cob.js sets
//       fields of the glucose entries, lib/meal/total.js sets profile.current_basal),
//       so each decision gets fresh copies: what it sees is what "decide" would see
//       ("echo": true answers {"inputs": ...} instead, for a test to compare).
//   anything that goes wrong -> {"error": "text"} (the caller counts it)
//
// The steps are those of a rig's loop (oref0-calculate-iob, oref0-meal,
// oref0-determine-basal), called in process with the same inputs the bin/ scripts
// read from files. Times are simulated: "clock" is passed as currentTime, so nothing
// reads the wall clock for a decision. TZ is UTC so that the simulated time of day is
// the profile's time of day.
'use strict';

process.env.TZ = 'UTC';

var readline = require('readline');
fastIsoParsing();
rememberedInsulinCurve();
var generateProfile = require('oref0/lib/profile');
var generateIob = require('oref0/lib/iob');
var generateMeal = require('oref0/lib/meal');
var getLastGlucose = require('oref0/lib/glucose-get-last');
var determineBasal = require('oref0/lib/determine-basal/determine-basal');
var tempBasalFunctions = require('oref0/lib/basal-set-temp');

// oref0 explains itself on stderr at every step; a rig logs it, a trial does not need it.
var quiet = process.env.OREF0_BRIDGE_LOG !== '1';
if (quiet) {
    console.error = function () {};
    process.stderr.write = function () { return true; };
}

// oref0 parses every timestamp with moment-timezone at every step, and moment builds
// its ISO-format regexes anew for each string: most of a decision's time. The bridge's
// timestamps are all UTC ISO strings ("...Z"); a moment made from the same instant in
// milliseconds is the same moment (TZ is UTC, so both are in local mode, offset 0).
// Installed in require's cache before oref0 loads, so oref0's require('moment-timezone')
// gets it; OREF0_BRIDGE_PLAIN_MOMENT=1 leaves moment alone (a test compares the two).
function fastIsoParsing() {
    if (process.env.OREF0_BRIDGE_PLAIN_MOMENT === '1') {
        return;
    }
    var where = {paths: [require.resolve('oref0/lib/iob')]};
    var zoned = require.resolve('moment-timezone', where);
    var plain = require.resolve('moment', where);
    var moment = require(zoned);  // moment itself, with the time zones added
    var UTC_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/;
    var fast = function (input) {
        if (arguments.length === 1 && typeof input === 'string' && UTC_ISO.test(input)) {
            return moment(Date.parse(input));
        }
        return moment.apply(this, arguments);
    };
    Object.assign(fast, moment);
    fast.prototype = moment.prototype;
    require(plain);
    require.cache[zoned].exports = fast;
    require.cache[plain].exports = fast;
}

// oref0 evaluates the insulin curve (lib/iob/calculate.js) for every treatment at
// every time of every IOB and carb-absorption step; the value depends only on the
// dose, the whole minutes since it and the curve's settings, which repeat from one
// decision to the next. Remembered per (curve settings, dose, minutes): the same
// numbers, each computed once. Also installed before oref0 loads.
function rememberedInsulinCurve() {
    if (process.env.OREF0_BRIDGE_PLAIN_MOMENT === '1') {
        return;
    }
    var path = require.resolve('oref0/lib/iob/calculate');
    var iobCalc = require(path);
    var settings = null;
    var doses = new Map();  // dose -> [result by whole minutes since it]
    var remembered = function (treatment, time, curve, dia, peak, profile) {
        var date = treatment.date;
        if (!treatment.insulin || !(time instanceof Date) || typeof date !== 'number' ||
                !isFinite(date)) {
            return iobCalc(treatment, time, curve, dia, peak, profile);
        }
        if (settings === null || settings[0] !== curve || settings[1] !== dia ||
                settings[2] !== peak || settings[3] !== profile.curve ||
                settings[4] !== profile.useCustomPeakTime ||
                settings[5] !== profile.insulinPeakTime) {
            settings = [curve, dia, peak, profile.curve, profile.useCustomPeakTime,
                        profile.insulinPeakTime];
            doses.clear();
        }
        // calculate.js: Math.round((time - new Date(treatment.date)) / 1000 / 60), and
        // new Date(x) keeps the whole milliseconds of x
        var minsAgo = Math.round((time.getTime() - Math.trunc(date)) / 1000 / 60);
        if (minsAgo < 0 || minsAgo > 1440) {
            return iobCalc(treatment, time, curve, dia, peak, profile);
        }
        var byMinute = doses.get(treatment.insulin);
        if (byMinute === undefined) {
            byMinute = new Array(1441);
            doses.set(treatment.insulin, byMinute);
        }
        var found = byMinute[minsAgo];
        if (found === undefined) {
            var result = iobCalc(treatment, time, curve, dia, peak, profile);
            found = {activityContrib: result.activityContrib, iobContrib: result.iobContrib};
            byMinute[minsAgo] = found;
        }
        // The one caller (lib/iob/total.js) only reads the two numbers: the remembered
        // answer itself, not a copy per call (most of a decision's garbage).
        return found;
    };
    require.cache[path].exports = remembered;
}

var MIN_GLUCOSE_FOR_COB = 36; // bin/oref0-meal.js: fewer readings, no carb absorption

function profile(request) {
    var result = {stdout: '', err: '', return_val: 0};
    var made = generateProfile(result, request.inputs);
    if (made === -1 || typeof made !== 'object') {
        return {error: 'profile refused: ' + (result.err || 'oref0 returned ' + made)};
    }
    return {profile: made};
}

// ----- the history each step reads --------------------------------------------------------
//
// A rig hands oref0 its whole history; most of a decision's time is oref0 turning every
// record into treatments (lib/iob/history.js) and summing them at every time step. A
// record only counts where its insulin lands within DIA before a time oref0 evaluates
// IOB at (lib/iob/total.js: treatment.date > time - dia), so each step is given the
// newest records it can read and nothing older (facts from oref0's code, below);
// OREF0_BRIDGE_CHECK_HISTORY=1 decides with the whole history too and answers an error
// when anything differs (a test runs it).
//
//   - lib/iob/total.js raises DIA to 3 h, and to 5 h for the exponential curves: the
//     longest DIA is max(profile.dia, 5) h.
//   - lib/iob/history.js spreads a temp basal's net insulin over its minutes (at most
//     its TempBasalDuration; a later temp only cuts it shorter) and dates a bolus at its
//     timestamp; it reads the records newest first, each against the newer ones only,
//     so leaving out the oldest changes nothing about the rest. Suspends and resumes are
//     matched over the whole history: with either in it, every step gets it all.
//   - lib/iob/index.js evaluates IOB from now on (every 5 min for 4 h), and reports the
//     newest bolus (lastBolusTime) and the newest temp (lastTemp) of the whole history:
//     the newest bolus is kept however old, and without a temp among the records kept
//     the step gets the whole history.
//   - lib/determine-basal/cob.js (called by lib/meal/total.js for each carb entry of the
//     last 6 h, then for the last 45 min of deviations) evaluates IOB at the times of
//     the readings it walks: from the newest reading back to the last one before the
//     meal (or to 45 min ago), never older. Only the carb entries come from lib/meal's
//     use of the history; its Bolus records change no carbs.
var CHECK_HISTORY = process.env.OREF0_BRIDGE_CHECK_HISTORY === '1';
var HOUR_MS = 3600000;
var MIN_MS = 60000;

function recordTimes(history) {
    var times = new Array(history.length);
    for (var i = 0; i < history.length; i++) {
        var r = history[i];
        if (r._type === 'PumpSuspend' || r._type === 'PumpResume' || r.carbs !== undefined ||
                r.temp === 'percent' || typeof r.timestamp !== 'string') {
            return null;  // the whole history (the notes above)
        }
        times[i] = Date.parse(r.timestamp);
        if (!(times[i] <= (i ? times[i - 1] : Infinity))) {
            return null;  // not newest first
        }
    }
    return times;
}

// The records of `history` (newest first) that a step evaluating IOB at `oldest` ms and
// later can read: insulin landing after oldest - DIA.
function readable(history, times, profile, oldest, keepNewestBolus) {
    var longestTemp = 0;
    for (var i = 0; i < history.length; i++) {
        if (history[i]._type === 'TempBasalDuration') {
            var minutes = history[i]['duration (min)'];
            if (typeof minutes !== 'number' || !(minutes >= 0)) {
                return history;
            }
            longestTemp = Math.max(longestTemp, minutes);
        }
    }
    var dia = Math.max(profile.dia, 5);
    if (!(dia > 0)) {
        return history;
    }
    var cut = oldest - dia * HOUR_MS - longestTemp * MIN_MS;
    var n = 0;
    while (n < history.length && times[n] >= cut) {
        n++;
    }
    if (n === history.length) {
        return history;
    }
    var kept = history.slice(0, n);
    if (keepNewestBolus) {
        // lastTemp: a kept temp that runs, not in the future (a temp at the same time as
        // another may be cut to nothing by it), else the whole history; lastBolusTime:
        // a kept bolus of some insulin, not in the future, else the newest older one
        // goes along (dated before the cut, it adds no IOB).
        var temps = new Map();  // timestamp -> temps at it
        for (i = 0; i < n; i++) {
            if (history[i]._type === 'TempBasal') {
                temps.set(history[i].timestamp, (temps.get(history[i].timestamp) || 0) + 1);
            }
        }
        var temp = false;
        var bolus = false;
        for (i = 0; i < n; i++) {
            temp = temp || (history[i]._type === 'TempBasalDuration' &&
                            history[i]['duration (min)'] > 0 && times[i] <= oldest &&
                            temps.get(history[i].timestamp) === 1);
            bolus = bolus || (history[i]._type === 'Bolus' && !!history[i].amount &&
                              times[i] <= oldest);
        }
        if (!temp) {
            return history;
        }
        for (i = n; i < history.length && !bolus; i++) {
            if (history[i]._type === 'Bolus' && history[i].amount) {
                kept.push(history[i]);
                bolus = true;
            }
        }
    }
    return kept;
}

// The oldest time lib/meal evaluates IOB at (the notes above), or null: all of it.
function oldestMealTime(now, glucose, carbs) {
    if (!glucose.length) {
        return null;
    }
    // the newest reading is always the first one walked (cob.js's bucketed_data[0])
    var oldest = Math.min(now - 45 * MIN_MS, Date.parse(glucose[0].dateString),
                          typeof glucose[0].date === 'number' ? glucose[0].date : Infinity);
    for (var i = 0; i < carbs.length; i++) {
        var at = Date.parse(carbs[i].created_at);
        if (!(at > now - 6 * HOUR_MS - 5 * MIN_MS)) {
            continue;  // outside lib/meal/total.js's 6-hour carb window
        }
        var before = null;  // the newest valid reading before the meal, after the first
        for (var j = 1; j < glucose.length && before === null; j++) {
            var g = glucose[j].glucose || glucose[j].sgv;
            var t = Date.parse(glucose[j].dateString);
            if (g >= 39 && t < at) {
                before = t;
            }
        }
        if (before === null || !(before >= 0)) {
            return null;
        }
        oldest = Math.min(oldest, before);
    }
    return oldest >= 0 ? oldest : null;
}

var read = null;  // with CHECK_HISTORY: how many records each step read

function decide(request) {
    var answer = decideOn(request, true);
    if (CHECK_HISTORY && !answer.error) {
        var counts = read;
        var whole = JSON.stringify(decideOn(JSON.parse(JSON.stringify(request)), false));
        if (whole !== JSON.stringify(answer)) {
            return {error: 'the readable history decided otherwise than the whole one'};
        }
        answer.read = counts;
    }
    return answer;
}

function decideOn(request, trim) {
    if (trim && CHECK_HISTORY) {
        request = JSON.parse(JSON.stringify(request));  // both decide on pristine inputs
    }
    var clock = request.clock;
    var now = new Date(clock);
    var profile = request.profile;
    var history = request.history;
    var iobHistory = history;
    var mealHistory = history;
    var times = trim ? recordTimes(history) : null;
    if (times !== null) {
        iobHistory = readable(history, times, profile, now.getTime(), true);
        var oldest = oldestMealTime(now.getTime(), request.glucose, request.carbs);
        if (oldest !== null) {
            mealHistory = readable(history, times, profile, oldest, false);
        }
    }
    read = {whole: history.length, iob: iobHistory.length, meal: mealHistory.length};
    var inputs = {history: iobHistory, profile: profile, clock: clock};
    if (request.autosens) {
        inputs.autosens = request.autosens;
    }
    var iob = generateIob(inputs);
    var meal = generateMeal({history: mealHistory, profile: profile,
                             basalprofile: profile.basalprofile, clock: clock,
                             carbs: request.carbs, glucose: request.glucose});
    if (request.glucose.length < MIN_GLUCOSE_FOR_COB) {
        meal.mealCOB = 0;
        meal.reason = 'not enough glucose data to calculate carb absorption';
    }
    var status = getLastGlucose(request.glucose);
    var suggested = determineBasal(status, request.currenttemp, iob, profile,
                                   request.autosens || null, meal, tempBasalFunctions,
                                   request.microbolus === true, null, now);
    if (typeof suggested.error !== 'undefined') {
        return {error: 'determine-basal: ' + suggested.error};
    }
    return {iob: iob[0], meal: meal, suggested: suggested};
}

var sessions = new Map();  // id -> {profile, keep, records, bySerial, carbs, glucose}
// records, carbs and glucose hold {entry} objects in order, oldest first (copies())
var MAX_SESSIONS = 16;  // a worker runs its cells one after another

function openSession(id, open) {
    var session = {profile: open.profile, keep: open.glucose_keep, records: [],
                   bySerial: new Map(), carbs: [], glucose: []};
    sessions.set(id, session);
    if (sessions.size > MAX_SESSIONS) {
        sessions.delete(sessions.keys().next().value);  // the oldest
    }
    return session;
}

function copies(entries) {
    var out = new Array(entries.length);
    for (var i = 0; i < entries.length; i++) {
        out[i] = Object.assign({}, entries[entries.length - 1 - i].entry);
    }
    return out;  // newest first, as oref0 reads them
}

function step(request) {
    var session = request.open ? openSession(request.session, request.open)
        : sessions.get(request.session);
    if (!session) {
        return {error: 'step: unknown session ' + JSON.stringify(request.session)};
    }
    request.history.forEach(function (change) {
        var known = session.bySerial.get(change[0]);
        if (known) {
            known.entry = change[2];  // amended (a cancelled bolus's amount)
        } else {
            known = {serial: change[0], ms: change[1], entry: change[2]};
            session.bySerial.set(change[0], known);
            session.records.push(known);
        }
    });
    var since = request.since;
    var kept = session.records.filter(function (r) { return r.ms >= since; });
    if (kept.length < session.records.length) {
        // only the records kept are known (one dropped and amended later is dropped again)
        session.bySerial = new Map(kept.map(function (r) { return [r.serial, r]; }));
    }
    session.records = kept;
    request.carbs.forEach(function (c) { session.carbs.push({ms: c[0], entry: c[1]}); });
    session.carbs = session.carbs.filter(function (c) { return c.ms >= since; });
    request.glucose.forEach(function (g) { session.glucose.push({entry: g}); });
    if (session.glucose.length > session.keep) {
        session.glucose.splice(0, session.glucose.length - session.keep);
    }
    var history = copies(session.records);
    if (request.suspended) {
        history.unshift(Object.assign({}, request.suspended));
    }
    var profile = structuredClone(session.profile);
    if (request.target !== null && request.target !== undefined) {
        profile.min_bg = request.target;  // as lib/profile/targets.js sets a temp target
        profile.max_bg = request.target;
        profile.temptargetSet = true;
    }
    var inputs = {clock: request.clock, glucose: copies(session.glucose), history: history,
                  carbs: copies(session.carbs), profile: profile,
                  currenttemp: request.currenttemp, microbolus: request.microbolus};
    if (request.echo === true) {
        return {inputs: inputs};  // what "decide" gets, for a test to compare
    }
    return decide(inputs);
}

var OPS = {profile: profile, decide: decide, step: step};

function answer(line) {
    var request;
    try {
        request = JSON.parse(line);
    } catch (e) {
        return {error: 'not JSON: ' + e.message};
    }
    var op = OPS[request.op];
    if (!op) {
        return {error: 'unknown op ' + JSON.stringify(request.op) + '; known: profile, decide, step'};
    }
    try {
        return op(request);
    } catch (e) {
        return {error: request.op + ' threw: ' + (e && e.stack ? e.stack.split('\n')[0] : e)};
    }
}

if (require.main === module) {
    var lines = readline.createInterface({input: process.stdin, terminal: false});
    lines.on('line', function (line) {
        if (line.trim()) {
            process.stdout.write(JSON.stringify(answer(line)) + '\n');
        }
    });
} else {
    module.exports = {answer: answer};
}
