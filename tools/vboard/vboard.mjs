// The virtual board's MicroPython: the WebAssembly VM with a simulated `machine`, whose
// serial port is this process's stdin (bytes in) and stdout (bytes out). tools/vboard
// (Python) puts it behind a pseudo-terminal, so mpremote talks to it like to a board.
//
//   node tools/vboard/vboard.mjs [--heap BYTES] [--virtual-time --control IN,OUT]
//
// What a MicroPython board does and this does too:
// - the friendly REPL and the raw REPL (Ctrl-A / Ctrl-B / Ctrl-C / Ctrl-D) come from the
//   VM's own event-driven REPL (replInit / replProcessChar);
// - raw-paste mode (Ctrl-E 'A' Ctrl-A in the raw REPL), which the VM's event-driven REPL
//   lacks, is done here: "R\x01", a window size, flow control with \x01, then the code
//   is fed to the raw REPL and its "OK" is not echoed;
// - soft reset (Ctrl-D on an empty line): "MPY: soft reboot", fresh Python state, boot.py,
//   and main.py unless the raw REPL is active; machine.reset() (also what `mpremote
//   reset` calls) and a watchdog timeout: a hard reset that always runs main.py;
// - Ctrl-C stops the running program (main.py's asyncio task) with KeyboardInterrupt;
// - the running program may read the console (the firmware's USB service): a board
//   gives it every byte; here it gets the lines that start "#B< " (below);
// - output newlines are cooked to \r\n, as the UART/USB console does.
// - --virtual-time: the firmware runs on the device VM's virtual clock and scheduler
//   (py/_vboard_vtime.py); time moves only when the host asks over the control pipe
//   (file descriptors IN and OUT, one JSON line each way: {"op": "advance", "ms": N},
//   {"op": "state"}, {"op": "force", "mn": N}) or while the program answers a request.
// Differences: asyncio.run(main) starts `main` as a task on the VM's event loop and
// returns, so the REPL stays live while the app runs; the filesystem is in memory.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIM_DIR = "/.vboard"; // the simulated machine's modules, on sys.path after /lib
const WINDOW = 256; // raw-paste flow-control window (bytes)
const FORCED_EXIT = 0x100; // replProcessChar's "soft reset requested"
const CTRL_A = 1, CTRL_B = 2, CTRL_C = 3, CTRL_D = 4, CTRL_E = 5;

function heapArg() {
    const i = process.argv.indexOf("--heap");
    return i > 0 ? parseInt(process.argv[i + 1], 10) : 512 * 1024;
}

const VIRTUAL = process.argv.includes("--virtual-time");
const VTIME_PY = ["vtime.py", "vasyncio.py", "vhw.py"]; // from tools/devicevm/py

// ----- serial output -------------------------------------------------------------------

const pending = [];
let flushScheduled = false;
let lastOut = 0;
let stripOK = 0; // bytes of "OK" still to drop after a raw-paste

function emit(byte) {
    if (stripOK) {
        stripOK--;
        if (byte === 0x4f || byte === 0x4b) return; // 'O', 'K'
    }
    if (byte === 0x0a && lastOut !== 0x0d) pending.push(0x0d);
    pending.push(byte);
    lastOut = byte;
    if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
    }
}

function emitText(text) {
    for (const b of Buffer.from(text, "latin1")) emit(b);
}

function flush() {
    flushScheduled = false;
    if (pending.length) process.stdout.write(Buffer.from(pending.splice(0)));
}

const mp = await loadMicroPython({
    heapsize: heapArg(),
    linebuffer: false,
    stdout: (bytes) => bytes.forEach(emit),
    stderr: (bytes) => bytes.forEach(emit),
});

// ----- the simulated machine -----------------------------------------------------------

mp.FS.mkdir(SIM_DIR);
for (const name of fs.readdirSync(path.join(HERE, "py")).sort()) {
    if (name.endsWith(".py")) {
        mp.FS.writeFile(`${SIM_DIR}/${name}`, fs.readFileSync(path.join(HERE, "py", name)));
    }
}
if (VIRTUAL) {
    for (const name of VTIME_PY) {
        const src = path.join(HERE, "..", "devicevm", "py", name);
        mp.FS.writeFile(`${SIM_DIR}/${name}`, fs.readFileSync(src));
    }
}

let resetKind = null; // "hard" (machine.reset, watchdog) or "soft", done after the call
globalThis.vboard_request_reset = (kind) => {
    if (!resetKind || resetKind === "soft") resetKind = kind; // a hard reset wins
    setImmediate(doPendingReset); // from a timer callback: nobody else will look
};
globalThis.vboard_reset_pending = () => (resetKind ? 1 : 0);

function py(code) {
    try {
        mp.runPython(code);
    } catch (e) {
        if (!(e && e.name === "PythonError")) throw e;
        emitText(`vboard: ${e.message}\n`);
    }
}

// ----- REPL and resets ------------------------------------------------------------------

let raw = false; // the raw REPL is active
let rawLen = 0; // bytes of the raw REPL's current input
let held = []; // Ctrl-E, 'A' held back while a raw-paste request may be arriving
let paste = null; // {sinceGrant} while in raw-paste mode

function boot(kind) {
    // A hard reset comes up in the friendly REPL and runs main.py; a soft reset keeps
    // the REPL mode and runs main.py only from the friendly REPL (as pyexec does).
    if (kind !== "soft") raw = false;
    if (kind === "soft") emitText("MPY: soft reboot\n");
    py(`import sys\nif ${JSON.stringify(SIM_DIR)} not in sys.path: sys.path.append(${JSON.stringify(SIM_DIR)})\n` +
       (VIRTUAL ? "import _vboard_vtime\n" : "") +
       `import _vboard_boot\n_vboard_boot.boot(${JSON.stringify(kind)}, ${raw ? "False" : "True"})`);
    mp.replInit();
    if (!raw) return;
    rawLen = 0;
}

function doPendingReset() {
    if (!resetKind) return;
    const kind = resetKind;
    resetKind = null;
    py("import _vboard_boot\n_vboard_boot.teardown()");
    if (VIRTUAL) py("import _vboard_vtime\n_vboard_vtime.power_off()");
    if (kind !== "soft" && raw) {
        mp.replProcessChar(CTRL_B); // leave the raw REPL, as a reset does
        raw = false;
    }
    boot(kind);
}

function feed(byte) {
    const ret = mp.replProcessChar(byte);
    if (ret & FORCED_EXIT) resetKind = resetKind || "soft";
    doPendingReset();
}

// ----- the USB console's requests (basalt.app.usb_service) -----------------------------
// While the program listens, a line that starts with "#B< " goes to it whole (a board
// gives the running program every byte; here the REPL stays live for everything else).

const REQUEST = [0x23, 0x42, 0x3c, 0x20]; // "#B< "
let listening = false; // the running program reads the console (vboard.console)
let atLineStart = true;
let request = null; // bytes of a line that may be a request, held from the REPL
globalThis.vboard_listen = (on) => {
    listening = !!on;
};

function toProgram(byte) {
    // True if the byte went to the program's console (or is held for it).
    if (request === null) {
        const start = atLineStart && listening && !raw && !paste && byte === REQUEST[0];
        atLineStart = endsLine(byte);
        if (start) request = [byte];
        return start;
    }
    if (byte === CTRL_C || (request.length < REQUEST.length && byte !== REQUEST[request.length])) {
        const held = request; // not a request (or Ctrl-C): the REPL gets it all
        request = null;
        held.forEach(toRepl);
        atLineStart = endsLine(byte);
        return false;
    }
    if (byte === 0x0d || byte === 0x0a) {
        const line = Buffer.from(request).toString("latin1");
        request = null;
        atLineStart = true;
        py(`import vboard\nvboard.console.feed(${JSON.stringify(line)})`);
        if (VIRTUAL) {
            py("import _vboard_vtime\n_vboard_vtime.serve()");
            doPendingReset();
        }
        return true;
    }
    request.push(byte);
    return true;
}

function endsLine(byte) {
    return byte === 0x0d || byte === 0x0a || byte === CTRL_C || byte === CTRL_D;
}

function onByte(byte) {
    if (!toProgram(byte)) toRepl(byte);
}

function toRepl(byte) {
    if (paste) {
        if (byte === CTRL_D) {
            paste = null;
            emitText("\x04"); // acknowledge the end of the code
            stripOK = 2; // the raw REPL answers "OK" first; raw-paste does not
            rawLen = 0;
            feed(CTRL_D);
            return;
        }
        if (++paste.sinceGrant === WINDOW) {
            paste.sinceGrant = 0;
            emitText("\x01"); // room for another window
        }
        rawLen++;
        feed(byte);
        return;
    }
    if (raw && (held.length || (rawLen === 0 && byte === CTRL_E))) {
        held.push(byte);
        if (held.length === 3) {
            const request = held[0] === CTRL_E && held[1] === 0x41 && held[2] === CTRL_A;
            const bytes = held;
            held = [];
            if (request) {
                emitText("R\x01");
                emit(WINDOW & 0xff);
                emit(WINDOW >> 8);
                paste = { sinceGrant: 0 };
                return;
            }
            bytes.forEach(onPlain);
        }
        return;
    }
    onPlain(byte);
}

function onPlain(byte) {
    if (byte === CTRL_C) py("import _vboard_boot\n_vboard_boot.interrupt()");
    if (byte === CTRL_A && !raw) raw = true;
    else if (byte === CTRL_B && raw) raw = false;
    if (byte === CTRL_A || byte === CTRL_C || byte === CTRL_D) rawLen = 0;
    else rawLen++;
    feed(byte);
}

process.stdin.on("data", (data) => {
    for (const byte of data) onByte(byte);
    flush();
});
process.stdin.on("end", () => {
    flush();
    process.exit(0);
});

// ----- the host's control pipe (--virtual-time) ----------------------------------------

function controlPipe() {
    const i = process.argv.indexOf("--control");
    if (!VIRTUAL || i < 0) return;
    const [input, output] = process.argv[i + 1].split(",").map((n) => parseInt(n, 10));
    let reply = null;
    globalThis.vboard_control_reply = (text) => {
        reply = text;
    };
    let partial = "";
    fs.createReadStream(null, { fd: input }).on("data", (data) => {
        partial += data.toString("latin1");
        let end;
        while ((end = partial.indexOf("\n")) >= 0) {
            const request = JSON.parse(partial.slice(0, end));
            partial = partial.slice(end + 1);
            doPendingReset();
            reply = null;
            if (request.op === "advance") py(`import _vboard_vtime\n_vboard_vtime.advance(${request.ms | 0})`);
            else if (request.op === "force") py(`import _vboard_vtime\n_vboard_vtime.force(${request.mn | 0})`);
            else py("import _vboard_vtime\n_vboard_vtime.report()");
            doPendingReset();
            flush();
            fs.writeSync(output, (reply || '{"error": "no state"}') + "\n");
        }
    });
}

boot("power");
flush();
controlPipe();
