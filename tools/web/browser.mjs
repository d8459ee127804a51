// Drive the Basalt page in headless Chromium (Debian's /usr/bin/chromium, through the
// npm package playwright-core; no browser is downloaded) and print what it saw as JSON.
//
//   node tools/web/browser.mjs check URL OUTDIR       the browser tests' run (below)
//   node tools/web/browser.mjs screenshot URL FILE    the README's picture of the page
//   node tools/web/browser.mjs speed URL SECONDS      the speed achieved at 600x
//
// check: the page loads; the first frames after power-on (the boot screen) and the
// pump's console; a 60 g meal and the patient's glucose over the next 15 minutes; the
// boot notes acknowledged, a reservoir fitted and basal resumed, and a 1.00 U bolus
// entered, all by key presses (keyboard and mouse clicks on the page's buttons), with
// the microsteps read back from the VM before and after; a screenshot of the OLED and
// the VM's frame at that moment; then the page reloaded with the network off (the
// service worker's cache).

import fs from "node:fs";
import path from "node:path";
import os from "node:os";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.BASALT_CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function open(url, viewport = { width: 1500, height: 900 }) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "basalt-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, args: ARGS, headless: true, viewport,
    });
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(url);
    await page.evaluate(() => window.basalt.ready);
    const close = async () => {
        await context.close();
        fs.rmSync(profile, { recursive: true, force: true });
    };
    return { context, page, errors, close };
}

const state = (page) => page.evaluate(() => window.basalt.state());
const advance = (page, ms) => page.evaluate((t) => window.basalt.advance(t), ms);

// A key press as a student makes it: the keyboard, or a mouse click on the page's button.
async function press(page, name, times = 1, mouse = false) {
    const keys = { up: "ArrowUp", down: "ArrowDown", select: "Enter", back: "Escape" };
    for (let i = 0; i < times; i++) {
        if (mouse) await page.click(`.key[data-key="${name}"]`);
        else await page.keyboard.press(keys[name]);
    }
}

async function check(url, outdir) {
    const { context, page, errors, close } = await open(url + "?patient=child%23001&speed=1&paused=1");
    const out = { errors, marks: [] };
    const t0 = Date.now();
    const mark = (what) => out.marks.push([what, Date.now() - t0]);
    const frames = [];
    // the boot: the page powered the board on at load; the first frames, 50 ms apart
    for (let i = 0; i < 12; i++) {
        frames.push((await state(page)).frame);
        await advance(page, 50);
    }
    out.boot_frames = frames;
    out.console = await page.textContent("#console");
    out.banner = await page.textContent("#banner");
    out.title = await page.title();
    await advance(page, 3000); // past the warning: the boot notes
    out.notes_frame = (await state(page)).frame;
    mark("boot");
    // a meal (the pump not yet delivering): glucose before and over the next 15 minutes
    const before = await state(page);
    out.glucose_before_meal = before.glucose;
    await page.fill("#grams", "60");
    await page.click("#eat");
    out.glucose_after_meal = [];
    for (let i = 0; i < 3; i++) {
        await advance(page, 5 * 60_000);
        out.glucose_after_meal.push((await state(page)).glucose);
    }
    mark("meal");
    await press(page, "select", 1, true); // wakes the dimmed screen (mouse)
    await press(page, "select", 1, true); // acknowledges the boot notes
    // Menu > Basal > New reservoir (fill offered), OK, same site, then Basal > Resume
    await press(page, "select");
    await press(page, "down");
    await press(page, "select");
    await press(page, "down", 2);
    await press(page, "select", 3);
    await press(page, "back");
    await press(page, "select");
    await press(page, "down");
    await press(page, "select");
    await press(page, "down");
    await press(page, "select", 2);
    out.resumed_frame = (await state(page)).frame;
    // Menu > Bolus > Normal: 1.00 U (20 x 0.05 U), OK, confirm
    await press(page, "select", 2);
    out.bolus_menu_frame = (await state(page)).frame;
    await press(page, "down");
    await press(page, "select");
    await press(page, "up", 20);
    await press(page, "select");
    out.confirm_frame = (await state(page)).frame;
    out.usteps_before = (await state(page)).usteps;
    mark("keys");
    await press(page, "select", 1, true);
    await advance(page, 60_000); // 1 U at 1.5 U/min: 40 s
    const after = await state(page);
    out.usteps_after = after.usteps;
    out.mu_per_ustep = after.mu_per_ustep;
    mark("bolus");
    // the OLED as the browser drew it, and the VM's frame behind it
    await press(page, "select", 1, true); // wakes the screen (the firmware dimmed it)
    await page.waitForTimeout(300); // a drawn animation frame
    const shot = path.join(outdir, "oled.png");
    await page.locator("#oled").screenshot({ path: shot });
    out.oled_png = shot;
    out.shot_frame = (await state(page)).frame;
    out.samples = await page.evaluate(() => window.basalt.plot.samples.length);
    mark("shot");
    // offline: the network gone, the page reloads from the service worker's cache
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await context.setOffline(true);
    await page.reload();
    await page.evaluate(() => window.basalt.ready);
    await advance(page, 500);
    out.offline_frame = (await state(page)).frame;
    mark("offline");
    await close();
    return out;
}

async function screenshot(url, file) {
    // adolescent#003 from 06:00: the pump set up, two meals with calculator boluses
    // (the CGM reading is the calculator's glucose), six hours, the home screen lit.
    const { page, close } = await open(url + "?patient=adolescent%23003&speed=600&start=06:00&paused=1",
                                       { width: 1480, height: 760 });
    const ok = (n = 1) => press(page, "select", n);
    await advance(page, 1500);
    await ok(); // the boot notes
    await ok(); await press(page, "down"); await ok(); await press(page, "down", 2); await ok(3);
    await press(page, "back"); await ok(); await press(page, "down"); await ok();
    await press(page, "down"); await ok(2); // a new reservoir, basal resumed
    for (const [grams, hours] of [[50, 3.5], [70, 1.5]]) {
        await advance(page, 3600_000);
        await page.fill("#grams", String(grams));
        await page.click("#eat");
        await ok(4); // wake, Menu, Bolus, Calculator
        await press(page, "up", grams);
        await ok(); await press(page, "down"); await ok(3); // the advice, accepted
        await advance(page, (hours - 1) * 3600_000);
    }
    await ok(); // the screen lit
    await page.waitForTimeout(800);
    await page.screenshot({ path: file });
    const seen = await state(page);
    await close();
    return { file, t_ms: seen.t_ms, crashes: seen.crashes };
}

async function speed(url, seconds) {
    const { page, close } = await open(url + "?patient=adult%23001&speed=600");
    await page.waitForTimeout(1000);
    const t0 = await page.evaluate(() => [performance.now(), window.basalt.state().t_ms]);
    await page.waitForTimeout(seconds * 1000);
    const t1 = await page.evaluate(() => [performance.now(), window.basalt.state().t_ms]);
    await close();
    const factor = (t1[1] - t0[1]) / (t1[0] - t0[0]);
    return { set: 600, seconds, achieved: +factor.toFixed(1),
             sim_min_per_wall_s: +(factor / 60).toFixed(2) };
}

const [mode, url, arg] = process.argv.slice(2);
const runs = { check, screenshot, speed };
if (!runs[mode] || !url) {
    process.stderr.write("usage: node tools/web/browser.mjs check|screenshot|speed URL ARG\n");
    process.exit(2);
}
const result = await runs[mode](url, mode === "speed" ? +(arg || 10) : arg);
process.stdout.write(JSON.stringify(result) + "\n");
