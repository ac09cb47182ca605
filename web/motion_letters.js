// The page's copy of classifiers/motion_letters.py: J and Z from the tracked hand's path over
// the last second.  Each function and class mirrors the Python one of the same name (same
// arithmetic, float64); tests/test_motion_letters.py runs this module with node and checks it
// against Python on the same paths.  The weights are the JSON web.py serves (checked there:
// format, classes, features, sha256); `loadMotionLetters` checks what it can again.
// Landmarks are 63 numbers (21 points of x, y, z in units of the image's longer side).

export const FORMAT = "asl-motion-letters";
export const FORMAT_VERSION = 1;
export const FEATURE_VERSION = 1;
export const CLASSES = ["none", "J", "Z"];
export const DESCRIPTOR_SIZE = 14;
export const CHANNELS = 13;
export const SHAPE_INPUTS = 8;
const CHORD_MIN = 0.25;
const MIRRORED = [0, 2, 4, 6, 8, 10];

/** A hand's smoothed reading (`letter`, its mean probabilities `proba`) as the speller takes it on
 * a stream: J and Z's share spread over the other classes, and a J or Z reading replaced by the
 * likeliest other class (null below `threshold`); motion_letters.py's still_reading. */
export function stillReading(letter, proba, classes, threshold) {
  if (!proba) return [letter, proba];
  const motions = CLASSES.slice(1);  // J, Z
  const kept = Float32Array.from(proba, (p, i) => (motions.includes(classes[i]) ? 0 : p));
  const total = kept.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return [null, proba];
  for (let i = 0; i < kept.length; i++) kept[i] /= total;
  if (motions.includes(letter)) {
    let best = 0;
    for (let i = 1; i < kept.length; i++) if (kept[i] > kept[best]) best = i;
    letter = kept[best] >= threshold ? classes[best] : null;
  }
  return [letter, kept];
}

/** The numbers of one hand the path is made of (Float64Array(14)), or null for unusable landmarks. */
export function frameDescriptor(lm) {
  const x = (i) => lm[3 * i], y = (i) => lm[3 * i + 1];
  const wx = x(0), wy = y(0);
  let size = 0;
  for (let i = 1; i < 21; i++) size += Math.hypot(x(i) - wx, y(i) - wy);
  size /= 20.0;
  if (!Number.isFinite(size) || size <= 1e-9) return null;
  const kx = x(9) - wx, ky = y(9) - wy;
  const reach = Math.hypot(kx, ky);
  const ix = x(5) - wx, iy = y(5) - wy, px = x(17) - wx, py = y(17) - wy;
  return Float64Array.from([wx, wy, x(9), y(9), x(8), y(8), x(20), y(20),
    reach > 1e-9 ? kx / reach : 0, reach > 1e-9 ? ky / reach : 0,
    (ix * py - iy * px) / (size * size),
    Math.hypot(x(8) - x(5), y(8) - y(5)) / size,
    Math.hypot(x(20) - x(17), y(20) - y(17)) / size, size]);
}

/** The model's input for a window (rows: steps x DESCRIPTOR_SIZE, oldest first), or null when no
 * point got `gate` hand sizes from where it ends: the steps x CHANNELS values, then each point's
 * stray from the straight line through its first and last place and its path length. */
export function windowFeatures(rows, left, gate) {
  const steps = rows.length;
  let size = 0;
  for (const r of rows) size += r[13];
  size /= steps;
  const last = rows[steps - 1];
  let far = 0;
  for (const r of rows) {
    for (let c = 0; c < 8; c += 2) far = Math.max(far, Math.hypot(r[c] - last[c], r[c + 1] - last[c + 1]));
  }
  if (far / size < gate) return null;
  const sx = left ? -1 : 1;
  const out = new Float64Array(steps * CHANNELS + SHAPE_INPUTS);
  rows.forEach((r, i) => {
    for (let c = 0; c < 8; c++) out[i * CHANNELS + c] = (r[c] - last[2 + (c % 2)]) * ((c % 2 ? 1 : sx) / size);
    for (let c = 8; c < CHANNELS; c++) out[i * CHANNELS + c] = r[c] * (MIRRORED.includes(c) ? sx : 1);
  });
  const x = (i, p) => out[i * CHANNELS + 2 * p], y = (i, p) => out[i * CHANNELS + 2 * p + 1];
  for (let p = 0; p < 4; p++) {
    const cx = x(steps - 1, p) - x(0, p), cy = y(steps - 1, p) - y(0, p);
    let cross = 0, length = 0;
    for (let i = 0; i < steps; i++) {
      const rx = x(i, p) - x(0, p), ry = y(i, p) - y(0, p);
      cross = Math.max(cross, Math.abs(ry * cx - rx * cy));
      if (i > 0) length += Math.hypot(x(i, p) - x(i - 1, p), y(i, p) - y(i - 1, p));
    }
    out[steps * CHANNELS + p] = cross / Math.max(Math.hypot(cx, cy), CHORD_MIN);
    out[steps * CHANNELS + 4 + p] = length;
  }
  return out;
}

/** When the hand began to move in a window whose last instant is `tLast` (ms). */
export function onsetMs(features, tLast, settings) {
  const steps = settings.steps;
  let first = steps - 1;
  for (let i = 0; i < steps; i++) {
    let away = 0;
    for (let c = 0; c < 8; c++) away = Math.max(away, Math.abs(features[i * CHANNELS + c] - features[c]));
    if (away > settings.onset) {
      first = i;
      break;
    }
  }
  return tLast - (steps - Math.max(first - 1, 0) - 1) * settings.dt_ms;
}

/** Checked weights (the payload of motion_letters.json): `proba` of CLASSES for one window. */
export class MotionModel {
  constructor(payload) {
    if (payload.format !== FORMAT || payload.format_version !== FORMAT_VERSION) {
      throw new Error(`not a motion-letter weights file of format ${FORMAT} v${FORMAT_VERSION}`);
    }
    if (JSON.stringify(payload.classes) !== JSON.stringify(CLASSES)) {
      throw new Error(`the motion weights have classes ${payload.classes}, this page expects ${CLASSES}`);
    }
    if (payload.feature_version !== FEATURE_VERSION) {
      throw new Error(`the motion weights were made for features v${payload.feature_version}, ` +
        `this page computes v${FEATURE_VERSION}`);
    }
    this.settings = payload.settings;
    this.layers = payload.layers.map((la) => ({ weight: la.weight, bias: Float64Array.from(la.bias) }));
    const inputs = this.settings.steps * CHANNELS + SHAPE_INPUTS;
    if (payload.input_mean.length !== inputs || this.layers.at(-1).bias.length !== CLASSES.length) {
      throw new Error("the motion weights' shapes do not fit this page's features and classes");
    }
    // the standardisation folded into the first layer, as MotionModel does in Python
    const { weight, bias } = this.layers[0];
    const std = payload.input_std, mean = payload.input_mean;
    const first = weight.map((row, i) => Float64Array.from(row, (v) => v / std[i]));
    const firstBias = Float64Array.from(bias);
    for (let j = 0; j < firstBias.length; j++) {
      let dot = 0;
      for (let i = 0; i < inputs; i++) dot += (mean[i] / std[i]) * weight[i][j];
      firstBias[j] -= dot;
    }
    this.first = { weight: first, bias: firstBias };
  }

  /** Scores of CLASSES for one window's features. */
  logits(features) {
    let h = features;
    const layers = [this.first, ...this.layers.slice(1).map((la) => ({ weight: la.weight, bias: la.bias }))];
    layers.forEach(({ weight, bias }, k) => {
      const out = Float64Array.from(bias);
      for (let i = 0; i < h.length; i++) {
        const v = h[i];
        if (v === 0) continue;
        const row = weight[i];
        for (let j = 0; j < out.length; j++) out[j] += v * row[j];
      }
      if (k < layers.length - 1) for (let j = 0; j < out.length; j++) out[j] = Math.max(out[j], 0);
      h = out;
    });
    return h;
  }

  /** Softmax of `logits`. */
  proba(features) {
    const z = this.logits(features);
    const top = Math.max(...z);
    const e = Array.from(z, (v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  }
}

/** The tracked hand's path at the clock's dt_ms instants (the last `steps` of them). */
export class MotionPath {
  constructor(settings) {
    this.settings = settings;
    this.reset();
  }

  reset() {
    this.last = null;  // {t, descriptor, left}
    this.instant = 0;
    this.rows = [];  // the window: steps rows of DESCRIPTOR_SIZE + 1 (handedness), oldest first
    this.features = null;  // the window's model input (null: no motion in it)
  }

  /** A frame with a hand; true when an instant has passed since the last one. */
  add(tMs, descriptor, left) {
    const dt = this.settings.dt_ms, steps = this.settings.steps;
    const instant = Math.floor(tMs / dt);
    const l = left ? 1 : 0;
    if (this.last === null || tMs < this.last.t) {
      this.last = { t: tMs, descriptor, left: l };
      this.instant = instant;
      this.rows = Array.from({ length: steps }, () => [...descriptor, l]);
      return true;
    }
    const { t: t0, descriptor: d0, left: l0 } = this.last;
    if (tMs === t0) return false;
    const fresh = Math.min(instant - this.instant, steps);
    for (let k = instant - fresh + 1; k <= instant; k++) {
      const w = (k * dt - t0) / (tMs - t0);
      const sample = Array.from(d0, (a, c) => a + w * (descriptor[c] - a));
      sample.push(l0 + w * (l - l0));
      this.rows.push(sample);
    }
    this.rows.splice(0, this.rows.length - steps);
    this.last = { t: tMs, descriptor, left: l };
    this.instant = instant;
    return fresh > 0;
  }

  get lastMs() {
    return this.instant * this.settings.dt_ms;
  }

  gapMs(tMs) {
    return this.last === null ? Infinity : tMs - this.last.t;
  }

  /** Take a frame (null: no hand); true when the window changed, its model input then in `features`. */
  observe(tMs, lm, handedness) {
    if (lm === null) {
      if (this.gapMs(tMs) > this.settings.max_gap_ms) this.reset();
      return false;
    }
    const descriptor = frameDescriptor(lm);
    if (descriptor === null) return false;
    if (!this.add(tMs, descriptor, String(handedness).toLowerCase() === "left")) return false;
    const left = 2 * this.rows.reduce((a, r) => a + r[DESCRIPTOR_SIZE], 0) > this.rows.length;
    this.features = windowFeatures(this.rows, left, this.settings.gate);
    return true;
  }
}

/** Once per frame of a stream, `update`; {letter, probability, tMs, startMs} once per motion. */
export class MotionLetters {
  constructor(model) {
    this.model = model;
    this.settings = model.settings;
    this.path = new MotionPath(this.settings);
    this.reset();
  }

  reset() {
    this.path.reset();
    this.armed = true;
    this.quietUntil = -Infinity;
    this.proba = null;
  }

  /** The frame at `tMs`: the tracked hand's landmarks and handedness (null for both: no hand).
   * A J or Z comes back at most once per motion and only while the hand is `moving` (the
   * speller's measure): motion_letters.py's MotionLetters.update. */
  update(tMs, lm, handedness, moving = true) {
    if (!this.path.observe(tMs, lm, handedness)) {
      if (lm === null) {
        this.proba = null;
        if (this.path.gapMs(tMs) === Infinity) this.armed = true;
      }
      return null;
    }
    const s = this.settings;
    const features = this.path.features;
    if (features === null) {
      this.proba = null;
      this.armed = true;
      return null;
    }
    const p = this.proba = this.model.proba(features);
    const best = p[2] > p[1] ? 2 : 1;
    if (Math.max(p[1], p[2]) < s.release) this.armed = true;
    if (p[best] < s.threshold || !this.armed || tMs < this.quietUntil || !moving) return null;
    this.armed = false;
    this.quietUntil = tMs + s.refractory_ms;
    return { letter: CLASSES[best], probability: p[best], tMs, startMs: onsetMs(features, this.path.lastMs, s) };
  }
}

/** The weights at `meta.url` (config.json's "motion"), checked: the model each hand's
 * MotionLetters runs. */
export async function loadMotionModel(meta) {
  const response = await fetch(meta.url);
  if (!response.ok) throw new Error(`${meta.url}: HTTP ${response.status}`);
  const payload = await response.json();
  if (payload.sha256 !== meta.sha256) throw new Error("the motion weights are not the ones web.py checked");
  return new MotionModel(payload);
}
