// Run a Python script inside real MicroPython (the official WebAssembly build, npm
// package @micropython/micropython-webassembly-pyscript) under node.
//
//   node tools/mpvm/run.mjs [--lib HOSTDIR]... [--heap BYTES] [--] SCRIPT.py [args...]
//
// --lib HOSTDIR  copy HOSTDIR (its .py, .mpy, .json and .img files, recursively, skipping
//                __pycache__ and dot-entries) into the VM as /lib/<basename of HOSTDIR>;
//                /lib is on MicroPython's sys.path, so `--lib firmware/basalt` makes
//                `import basalt` work. Repeatable.
// --heap BYTES   MicroPython GC heap size (suffix k or m allowed). Default 4 MiB.
//
// The script runs with __name__ == "__main__", __file__ and sys.argv[0] set to SCRIPT
// as given, sys.argv[1:] = args. Its stdout is passed through byte for byte; its
// sys.stderr goes to stderr. Exit status: 0 on success, the SystemExit code if the
// script raises SystemExit, 1 (traceback on stderr) on any other exception, 2 on a
// usage error. There is no asyncio.run in this VM. A script may go on in callbacks from
// JavaScript timers (js.setTimeout): node runs them after the script returns, their
// output is flushed when the process ends, and an exception in one exits with 1.
// The VM collects garbage only when control is back in JavaScript (its gc.collect()
// asks for a collection then): to read a live heap, read gc.mem_alloc() in a timer
// callback after the step that made the garbage called gc.collect().

import fs from "node:fs";
import path from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const USAGE = "usage: node tools/mpvm/run.mjs [--lib HOSTDIR]... [--heap BYTES] [--] SCRIPT.py [args...]";
const DEFAULT_HEAP = 4 * 1024 * 1024;

function usageError(message) {
    writeText(2, `run.mjs: ${message}\n${USAGE}`);
    process.exitCode = 2;
}

function parseSize(text) {
    const m = /^(\d+)([kKmM]?)$/.exec(text);
    if (m === null) return null;
    const scale = { "": 1, k: 1024, m: 1024 * 1024 }[m[2].toLowerCase()];
    return parseInt(m[1], 10) * scale;
}

function parseArgs(argv) {
    const opts = { libs: [], heap: DEFAULT_HEAP, script: null, args: [] };
    let i = 0;
    for (; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--") { i++; break; }
        if (a === "--lib" || a === "--heap") {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            const v = argv[++i];
            if (a === "--lib") {
                opts.libs.push(v);
            } else {
                const heap = parseSize(v);
                if (heap === null || heap < 16 * 1024) throw new Error(`bad --heap ${JSON.stringify(v)} (bytes, >= 16k)`);
                opts.heap = heap;
            }
        } else if (a.startsWith("--lib=")) {
            opts.libs.push(a.slice(6));
        } else if (a.startsWith("--heap=")) {
            const heap = parseSize(a.slice(7));
            if (heap === null || heap < 16 * 1024) throw new Error(`bad ${a} (bytes, >= 16k)`);
            opts.heap = heap;
        } else if (a.startsWith("-") && a !== "-") {
            throw new Error(`unknown option ${a}`);
        } else {
            break;
        }
    }
    if (i >= argv.length) throw new Error("no SCRIPT given");
    opts.script = argv[i];
    opts.args = argv.slice(i + 1);
    return opts;
}

// Output arrives one byte per callback (linebuffer: false); collect bytes in a fixed
// buffer and hand full chunks to the stream, so megabytes of output stay cheap.
// Output goes to the file descriptors synchronously. A stream's writes to a pipe are
// asynchronous on POSIX (Node's "A note on process I/O"): what was still queued when
// the process exited was lost, so a long transcript printed by a timer callback came
// back cut short whenever the reading side lagged (a loaded host).
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd, bytes) {
    let done = 0;
    while (done < bytes.length) {
        try {
            done += fs.writeSync(fd, bytes, done, bytes.length - done);
        } catch (e) {
            if (e.code !== "EAGAIN") throw e;
            Atomics.wait(PAUSE, 0, 0, 1); // the pipe is full: give the reader 1 ms
        }
    }
}

function writeText(fd, text) {
    writeAll(fd, Buffer.from(text.endsWith("\n") ? text : `${text}\n`));
}

class ByteSink {
    constructor(fd, size = 1 << 16) {
        this.fd = fd;
        this.buf = Buffer.allocUnsafe(size);
        this.n = 0;
    }
    push(bytes) {
        for (let k = 0; k < bytes.length; k++) {
            this.buf[this.n++] = bytes[k];
            if (this.n === this.buf.length) this.flush();
        }
    }
    flush() {
        if (this.n === 0) return;
        writeAll(this.fd, this.buf.subarray(0, this.n));
        this.n = 0;
    }
}

function ensureDir(FS, dir) {
    try {
        FS.mkdir(dir);
    } catch (e) {
        if (!FS.isDir(FS.stat(dir).mode)) throw e;
    }
}

// Copy .py/.mpy/.json/.img files of hostDir (recursively) to vmDir. Returns the number of files.
function copyTree(FS, hostDir, vmDir) {
    ensureDir(FS, vmDir);
    let count = 0;
    const entries = fs.readdirSync(hostDir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
        if (ent.name.startsWith(".") || ent.name === "__pycache__") continue;
        const hostPath = path.join(hostDir, ent.name);
        const vmPath = `${vmDir}/${ent.name}`;
        let isDir = ent.isDirectory();
        let isFile = ent.isFile();
        if (ent.isSymbolicLink()) {
            const st = fs.statSync(hostPath);
            isDir = st.isDirectory();
            isFile = st.isFile();
        }
        if (isDir) {
            count += copyTree(FS, hostPath, vmPath);
        } else if (isFile && /\.(py|mpy|json|img)$/.test(ent.name)) {
            FS.writeFile(vmPath, fs.readFileSync(hostPath));
            count++;
        }
    }
    return count;
}

// Runs the script in a fresh globals dict; turns SystemExit into an exit code.
const BOOTSTRAP = `
def _mpvm_main():
    global _mpvm_src
    import sys, json
    argv = json.loads(_mpvm_argv)
    sys.argv.clear()
    sys.argv.extend(argv)
    code = compile(_mpvm_src, argv[0], "exec")
    _mpvm_src = None  # free the source text before the script runs
    g = {"__name__": "__main__", "__file__": argv[0]}
    try:
        exec(code, g)
    except SystemExit as e:
        status = e.args[0] if e.args else None
        if status is None:
            return 0
        if isinstance(status, int):
            return status
        print(status, file=sys.stderr)
        return 1
    return 0
_mpvm_exit = _mpvm_main()
`;

async function main() {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        usageError(e.message);
        return;
    }
    let source;
    try {
        source = fs.readFileSync(opts.script, "utf8");
    } catch (e) {
        usageError(`cannot read script ${opts.script}: ${e.message}`);
        return;
    }

    const out = new ByteSink(1);
    const err = new ByteSink(2, 1 << 12);
    const mp = await loadMicroPython({
        heapsize: opts.heap,
        linebuffer: false,
        stdout: (bytes) => out.push(bytes),
        stderr: (bytes) => err.push(bytes),
    });

    process.on("exit", () => {  // output of timer callbacks that ran after the script
        out.flush();
        err.flush();
    });
    process.on("uncaughtException", (e) => {  // a Python exception in a timer callback
        if (!(e && e.name === "PythonError")) throw e;
        out.flush();
        err.flush();
        writeText(2, String(e.message));
        process.exit(1);
    });

    const FS = mp.FS;
    ensureDir(FS, "/lib");
    const seen = new Map();
    for (const lib of opts.libs) {
        const resolved = path.resolve(lib);
        let st;
        try {
            st = fs.statSync(resolved);
        } catch (e) {
            usageError(`--lib ${lib}: ${e.code || e.message}`);
            return;
        }
        if (!st.isDirectory()) {
            usageError(`--lib ${lib}: not a directory`);
            return;
        }
        const name = path.basename(resolved);
        if (seen.has(name)) {
            usageError(`--lib ${lib} and --lib ${seen.get(name)} would both be /lib/${name}`);
            return;
        }
        seen.set(name, lib);
        copyTree(FS, resolved, `/lib/${name}`);
    }

    mp.globals.set("_mpvm_src", source);
    mp.globals.set("_mpvm_argv", JSON.stringify([opts.script, ...opts.args]));
    let status;
    try {
        mp.runPython(BOOTSTRAP);
        status = mp.globals.get("_mpvm_exit");
    } catch (e) {
        out.flush();
        err.flush();
        if (e && e.name === "PythonError") {
            writeText(2, String(e.message));
            process.exitCode = 1;
            return;
        }
        throw e;
    }
    out.flush();
    err.flush();
    process.exitCode = Number.isInteger(status) ? status & 0xff : 1;
}

await main();
