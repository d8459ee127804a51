// Basalt in a browser: loads MicroPython (the npm package's WebAssembly build), writes
// the firmware, the device VM's fakes and the virtual patient into its filesystem
// (py/files.json lists them), and runs web/py/webvm.py: the real firmware on the
// browser board beside the patient, in virtual time. This file only draws and forwards
// keys; every pump decision is the firmware's.
//
// Page settings come from the address (so a lesson can name them):
//   ?patient=adult%23004&speed=60&start=07:00&cgm=on&paused=0&settings=patient
// settings=patient: the pump programmed for the patient (basal, carb ratio, sensitivity)
// as the cohort programs it; settings=example: web/settings.json's Weekday profile.

import { loadMicroPython } from "./vendor/micropython.mjs";
import { Plot } from "./plot.js";

const SPEEDS = [1, 10, 60, 120, 300, 600];
const KEYS = { ArrowUp: "up", ArrowDown: "down", Enter: "select", Escape: "back", Backspace: "back" };
const SLICE_MS = 30; // wall time the VM gets before the page draws and reads events
const CHUNK_MS = 1000; // simulated ms per call into the VM
const KEYS_AT_1X_MS = 8000; // after a key, time runs at 1x this long (menus as on a board)

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const settings = {
    patient: params.get("patient") || "adolescent#001",
    speed: SPEEDS.includes(+params.get("speed")) ? +params.get("speed") : 60,
    start: /^\d\d:\d\d$/.test(params.get("start") || "") ? params.get("start") : "07:00",
    cgm: params.get("cgm") !== "off",
    paused: params.get("paused") === "1",
    pump: params.get("settings") === "example" ? "example" : "patient", // the pump's settings file
};
const startMin = +settings.start.slice(0, 2) * 60 + +settings.start.slice(3, 5);

let vm = null;
let owed = 0; // simulated ms the VM is behind the wall clock
let lastWall = 0;
let keysUntil = 0;
const held = new Set();
const speedLog = []; // [wall ms, simulated ms]: the speed achieved
const plot = new Plot($("plot"), startMin);

async function loadFiles(mp) {
    const list = await (await fetch("py/files.json")).json();
    const bodies = await Promise.all(list.map(async (path) => {
        const response = await fetch("py/" + path);
        if (!response.ok) throw new Error(`py/${path}: HTTP ${response.status}`);
        return new Uint8Array(await response.arrayBuffer());
    }));
    list.forEach((path, i) => {
        const parts = path.split("/");
        for (let k = 1; k < parts.length; k++) {
            const dir = "/" + parts.slice(0, k).join("/");
            if (!mp.FS.analyzePath(dir).exists) mp.FS.mkdir(dir);
        }
        mp.FS.writeFile("/" + path, bodies[i]);
    });
    return list.length;
}

async function start() {
    const mp = await loadMicroPython({
        heapsize: 4 * 1024 * 1024,
        stdout: (line) => { $("console").textContent += line + "\n"; },
        stderr: (line) => console.error(line),
    });
    const count = await loadFiles(mp);
    mp.runPython("import webvm");
    vm = mp.pyimport("webvm");
    fillPatients(JSON.parse(vm.names()));
    vm.start(settings.patient, startMin, settings.cgm, settings.pump);
    $("status").textContent = `MicroPython ${count} files loaded; patient ${settings.patient}, ` +
        `CGM ${settings.cgm ? "on" : "off"}, start ${settings.start}, pump settings: ` +
        (settings.pump === "example" ? "the example file." : "programmed for the patient.");
    lastWall = performance.now();
    requestAnimationFrame(draw);
    pump();
}

function fillPatients(names) {
    const select = $("patient");
    for (const name of names) select.add(new Option(name, name, false, name === settings.patient));
    select.addEventListener("change", () => {
        params.set("patient", select.value);
        location.search = params.toString(); // a new patient: the pump starts again
    });
}

// ----- time ---------------------------------------------------------------------------

function speedNow(now) {
    if (settings.paused) return 0;
    return held.size || now < keysUntil ? 1 : settings.speed;
}

function advance(ms) { // tests: run ms of simulated time now
    vm.run(ms);
}

function pump() {
    const now = performance.now();
    const speed = speedNow(now);
    owed = Math.min(owed + Math.min(now - lastWall, 250) * speed, speed * 500);
    lastWall = now;
    const sliceEnd = now + SLICE_MS;
    while (owed >= 1 && performance.now() < sliceEnd) {
        const chunk = Math.floor(Math.min(owed, CHUNK_MS));
        vm.run(chunk);
        owed -= chunk;
    }
    if (owed < 5) setTimeout(pump, 10);
    else channel.port2.postMessage(0); // at once, after pending events
}
const channel = new MessageChannel();
channel.port1.onmessage = pump;

function achieved(state) {
    const now = performance.now();
    speedLog.push([now, state.t_ms]);
    while (speedLog.length > 2 && now - speedLog[0][0] > 3000) speedLog.shift();
    const [w0, s0] = speedLog[0];
    return now - w0 > 500 ? (state.t_ms - s0) / (now - w0) : null;
}

// ----- drawing ------------------------------------------------------------------------

const oled = $("oled").getContext("2d");
const image = oled.createImageData(512, 256);
let lastFrame = null;
let lastPlot = 0;

const pixels = new Uint32Array(image.data.buffer); // one RGBA word per canvas pixel
const frame = new Uint8Array(1024);

function rgba(r, g, b) { // little-endian ImageData words
    return (255 << 24 | b << 16 | g << 8 | r) >>> 0;
}

function drawOled(hex, contrast) {
    const key = hex + contrast;
    if (key === lastFrame) return;
    lastFrame = key;
    for (let i = 0; i < 1024; i++) frame[i] = hex ? parseInt(hex.substr(2 * i, 2), 16) : 0;
    const level = contrast >= 0x80 ? 1 : 0.45; // the firmware dims the panel when idle
    const lit = rgba(150 * level, 215 * level, 255 * level);
    const seam = rgba(82 * level, 118 * level, 140 * level); // a dark seam between pixels
    const dark = rgba(4, 6, 10);
    for (let oy = 0; oy < 64; oy++) {
        for (let ox = 0; ox < 128; ox++) {
            const on = (frame[(oy >> 3) * 128 + ox] >> (oy & 7)) & 1;
            let at = oy * 4 * 512 + ox * 4;
            for (let dy = 0; dy < 4; dy++, at += 512) {
                pixels[at] = pixels[at + 1] = pixels[at + 2] = on ? (dy === 3 ? seam : lit) : dark;
                pixels[at + 3] = on ? seam : dark;
            }
        }
    }
    oled.putImageData(image, 0, 0);
}

function clock(t_ms) {
    const minutes = startMin + Math.floor(t_ms / 60000);
    const day = Math.floor(minutes / 1440) + 1;
    const hh = String(Math.floor(minutes / 60) % 24).padStart(2, "0");
    const mm = String(minutes % 60).padStart(2, "0");
    return `day ${day} ${hh}:${mm}`;
}

function draw() {
    const state = JSON.parse(vm.state());
    drawOled(state.frame, state.contrast);
    plot.add(JSON.parse(vm.samples()));
    const now = performance.now();
    if (now - lastPlot > 250) {
        lastPlot = now;
        plot.draw();
        const factor = achieved(state);
        $("clock").textContent = clock(state.t_ms);
        $("bg").textContent = state.glucose.toFixed(0);
        $("cgm").textContent = state.cgm === null ? "--" : state.cgm;
        $("units").textContent = (state.usteps * state.mu_per_ustep / 1000).toFixed(3);
        $("force").textContent = (state.force_mn / 1000).toFixed(2);
        const set = speedNow(now);
        $("achieved").textContent = settings.paused ? `paused (${settings.speed}\u00d7 set)` :
            `${set}\u00d7 set, ${factor === null ? "--" : factor.toFixed(0)}\u00d7 now`;
        window.basalt.factor = factor;
        if (state.crashes.length) {
            $("crash").hidden = false;
            $("crash").textContent = "firmware crash:\n" + state.crashes.map((c) => c.error).join("\n");
        }
    }
    requestAnimationFrame(draw);
}

// ----- keys and controls --------------------------------------------------------------

function key(name, down) {
    if (down === held.has(name)) return;
    if (down) held.add(name);
    else held.delete(name);
    keysUntil = performance.now() + KEYS_AT_1X_MS;
    vm.key(name, down);
    for (const b of document.querySelectorAll(`.key[data-key="${name}"]`)) b.classList.toggle("down", down);
}

for (const button of document.querySelectorAll(".key")) {
    const name = button.dataset.key;
    button.addEventListener("pointerdown", (e) => { e.preventDefault(); key(name, true); });
    for (const end of ["pointerup", "pointerleave", "pointercancel"]) {
        button.addEventListener(end, () => key(name, false));
    }
}

function typing(e) {
    return e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
}

document.addEventListener("keydown", (e) => {
    if (!vm || !KEYS[e.key] || typing(e)) return;
    e.preventDefault();
    if (!e.repeat) key(KEYS[e.key], true);
});
document.addEventListener("keyup", (e) => {
    if (!vm || !KEYS[e.key] || typing(e)) return;
    e.preventDefault();
    key(KEYS[e.key], false);
});

const speedSelect = $("speed");
speedSelect.value = String(settings.speed);
speedSelect.addEventListener("change", () => {
    settings.speed = +speedSelect.value;
    params.set("speed", speedSelect.value);
    history.replaceState(null, "", "?" + params.toString()); // shareable settings
    speedSelect.blur();
});

const pauseButton = $("pause");
function setPaused(paused) {
    settings.paused = paused;
    pauseButton.textContent = paused ? "run" : "pause";
}
pauseButton.addEventListener("click", () => setPaused(!settings.paused));
setPaused(settings.paused);

function eat() {
    const grams = Math.round(+$("grams").value);
    if (vm && grams > 0 && grams <= 200) vm.eat(grams);
}
$("eat").addEventListener("click", eat);
$("blocked").addEventListener("change", (e) => vm && vm.block(e.target.checked));
$("cgmaway").addEventListener("change", (e) => vm && vm.cgm_in_range(!e.target.checked));
$("grams").addEventListener("keydown", (e) => { if (e.key === "Enter") eat(); });

// ----- for tests and the curious (the browser console) ----------------------------------

window.basalt = {
    settings,
    factor: null,
    plot,
    state: () => JSON.parse(vm.state()),
    advance,
    setPaused,
    ready: start().then(() => true, (error) => {
        $("status").textContent = `could not start: ${error}`;
        throw error;
    }),
};

if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch(() => {}); // offline after one load
}
