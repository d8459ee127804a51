// The page's live plot: glucose and CGM above; basal rate, boluses and IOB below.
// A sample is one simulated minute from web/py/webvm.py:
// [minute, glucose mg/dL, CGM mg/dL or null, basal mU/h, bolus mU, IOB mU, carbs g].

const COLORS = { bg: "#1f6fd1", cgm: "#e07b00", basal: "#2e9d57", bolus: "#7a3db8",
                 iob: "#c23b7a", carbs: "#9a7b00", grid: "#e6eaef", text: "#5b6573" };
const WINDOW_MIN = 12 * 60;
const G_MIN = 40, G_MAX = 400;

export class Plot {
    constructor(canvas, startMin) {
        this.canvas = canvas;
        this.ctx = canvas.getContext("2d");
        this.startMin = startMin; // the time of day (min) at minute 0
        this.samples = [];
    }

    add(samples) {
        for (const s of samples) this.samples.push(s);
    }

    draw() {
        const { ctx, canvas } = this;
        const W = canvas.width, H = canvas.height, L = 52, R = 16;
        const top = { y: 14, h: H * 0.58 }, low = { y: H * 0.58 + 44, h: H * 0.42 - 70 };
        ctx.clearRect(0, 0, W, H);
        ctx.font = "12px system-ui, sans-serif";
        const last = this.samples.length ? this.samples[this.samples.length - 1][0] : 0;
        const t0 = Math.max(0, last - WINDOW_MIN), t1 = Math.max(t0 + 60, last);
        const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
        const shown = this.samples.filter((s) => s[0] >= t0);
        this.hours(x, t0, t1, top, low, H);
        // glucose panel: target band, patient glucose (line), CGM (dots), meals
        const gy = (g) => top.y + top.h * (1 - (Math.min(G_MAX, Math.max(G_MIN, g)) - G_MIN) / (G_MAX - G_MIN));
        ctx.fillStyle = "#eaf6ee";
        ctx.fillRect(L, gy(180), W - L - R, gy(70) - gy(180));
        this.axis(top, [G_MIN, 70, 180, 250, G_MAX], gy, L, W - R, "mg/dL");
        this.line(shown, x, (s) => gy(s[1]), COLORS.bg, 2);
        ctx.fillStyle = COLORS.cgm;
        for (const s of shown) {
            if (s[2] !== null && s[0] % 5 === 0) this.dot(x(s[0]), gy(s[2]), 2.6);
        }
        ctx.fillStyle = COLORS.carbs;
        for (const s of shown) {
            if (s[6] > 0) {
                this.tri(x(s[0]), top.y + top.h - 2);
                ctx.fillText(`${s[6]} g`, x(s[0]) + 6, top.y + top.h - 6);
            }
        }
        // insulin panel: basal rate (U/h, steps), boluses (U, bars), IOB (U, line)
        let max = 2;
        for (const s of shown) max = Math.max(max, (s[3] || 0) / 1000, (s[5] || 0) / 1000);
        const bolusByHalfHour = this.boluses(shown);
        for (const [, u] of bolusByHalfHour) max = Math.max(max, u);
        max = Math.ceil(max);
        const iy = (u) => low.y + low.h * (1 - u / max);
        this.axis(low, [0, max / 2, max], iy, L, W - R, "U, U/h");
        ctx.fillStyle = COLORS.bolus;
        for (const [t, u] of bolusByHalfHour) {
            ctx.fillRect(x(t) - 3, iy(u), 6, iy(0) - iy(u));
            ctx.fillText(u.toFixed(2), x(t) + 5, iy(u) + 10);
        }
        this.line(shown, x, (s) => iy((s[3] || 0) / 1000), COLORS.basal, 2, true);
        this.line(shown, x, (s) => (s[5] === null ? null : iy(s[5] / 1000)), COLORS.iob, 1.5);
        ctx.fillStyle = COLORS.text;
        ctx.fillText("glucose and CGM", L + 4, top.y + 12);
        ctx.fillText("basal rate, boluses, insulin on board (IOB)", L + 4, low.y - 6);
    }

    boluses(shown) {
        // Bolus units delivered, summed per run of minutes with delivery (one bar each).
        const out = [];
        let run = null;
        for (const s of shown) {
            if (s[4] > 0) {
                if (run === null) run = [s[0], 0];
                run[1] += s[4] / 1000;
            } else if (run !== null) {
                out.push(run);
                run = null;
            }
        }
        if (run !== null) out.push(run);
        return out;
    }

    hours(x, t0, t1, top, low, H) {
        const { ctx } = this;
        const step = t1 - t0 > 6 * 60 ? 120 : 60;
        ctx.fillStyle = COLORS.text;
        ctx.strokeStyle = COLORS.grid;
        for (let t = Math.ceil((t0 + this.startMin) / step) * step - this.startMin; t <= t1; t += step) {
            const hh = Math.floor(((t + this.startMin) / 60) % 24);
            ctx.beginPath();
            ctx.moveTo(x(t), top.y);
            ctx.lineTo(x(t), low.y + low.h);
            ctx.stroke();
            ctx.fillText(`${String(hh).padStart(2, "0")}:00`, Math.min(x(t) - 16, this.canvas.width - 36), H - 8);
        }
    }

    axis(panel, ticks, y, x0, x1, unit) {
        const { ctx } = this;
        ctx.strokeStyle = COLORS.grid;
        ctx.fillStyle = COLORS.text;
        ctx.textAlign = "right";
        for (const v of ticks) {
            ctx.beginPath();
            ctx.moveTo(x0, y(v));
            ctx.lineTo(x1, y(v));
            ctx.stroke();
            ctx.fillText(String(+v.toFixed(1)), x0 - 6, y(v) + 4);
        }
        ctx.textAlign = "center";
        ctx.save();
        ctx.translate(12, panel.y + panel.h / 2);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(unit, 0, 0);
        ctx.restore();
        ctx.textAlign = "left";
    }

    line(samples, x, y, color, width, steps = false) {
        const { ctx } = this;
        ctx.strokeStyle = color;
        ctx.lineWidth = width;
        ctx.beginPath();
        let prev = null;
        for (const s of samples) {
            const py = y(s);
            if (py === null || Number.isNaN(py)) { prev = null; continue; }
            if (prev === null) ctx.moveTo(x(s[0]), py);
            else if (steps) { ctx.lineTo(x(s[0]), prev); ctx.lineTo(x(s[0]), py); }
            else ctx.lineTo(x(s[0]), py);
            prev = py;
        }
        ctx.stroke();
        ctx.lineWidth = 1;
    }

    dot(cx, cy, r) {
        this.ctx.beginPath();
        this.ctx.arc(cx, cy, r, 0, 2 * Math.PI);
        this.ctx.fill();
    }

    tri(cx, cy) {
        const { ctx } = this;
        ctx.beginPath();
        ctx.moveTo(cx, cy - 9);
        ctx.lineTo(cx - 5, cy);
        ctx.lineTo(cx + 5, cy);
        ctx.fill();
    }
}
