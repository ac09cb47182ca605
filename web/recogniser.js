// The page's copy of recogniser.py's stream path: landmarks (a hand the tracker lost is looked
// for again with replicated-edge borders, then by the last resort, a landmarker at a lower
// confidence, which gives the hand back to the first one when it finds it), letter
// probabilities, smoothing per hand, committing and the word pause; with settings.adapt, signer
// adaptation (adaptation.js) learns from each confirmed word; with a motion model, J and Z from
// each hand's path (motion_letters.js) replace what the static model committed during the motion,
// and no still hand commits a J or Z.  `frameRecord` is the object
// main.py writes per JSONL line.

import { SignerAdapter } from "./adaptation.js";
import { rightProbability, toProjectUnits } from "./keypoints.js";
import { MotionLetters, stillReading } from "./motion_letters.js";
import { HandMotion, Smoother, Speller, best } from "./speller.js";

/** Python's round(): halves to even (pad widths must match keypoints.HandDetector.read). */
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A smoothing key per hand: its handedness, numbered when two hands share one. */
function handKeys(hands) {
  const keys = [];
  for (const hand of hands) {
    let key = hand.handedness;
    while (keys.includes(key)) key += "+";
    keys.push(key);
  }
  return keys;
}

export class Recogniser {
  /** `settings`: config.json's "settings" (recogniser.py's defaults, or web.py's flags);
   * `lastResort`: the landmarker at settings.last_resort_confidence (null: none);
   * `adaptation`: config.json's "adaptation" (adaptation.py's settings), used with settings.adapt;
   * `motionModel`: the J/Z motion model (motion_letters.js; null: none). */
  constructor(landmarker, classifier, settings, text, lastResort = null, adaptation = null, motionModel = null) {
    this.landmarker = landmarker;
    this.lastResort = lastResort;
    this.classifier = classifier;
    this.settings = settings;
    this.text = text;
    this.speller = new Speller(settings.hold_s * 1000, settings.gap_ms, classifier.classes, settings.motion_ms);
    const borders = [0, ...settings.borders];
    // The ways frames are read, in turn while no hand is found: [by the last resort, border].
    this.ways = [...borders.map((b) => [false, b]), ...(lastResort ? borders.map((b) => [true, b]) : [])];
    this.way = 0;  // index in ways of the way frames are read now
    this.held = 0;  // frames in a row the last resort has found the hand
    this.noHandSince = null;
    this.smoothers = new Map();
    this.motions = new Map();
    this.motionModel = settings.motion_letters ? motionModel : null;
    this.paths = new Map();  // per hand: J and Z from its path
    this.standIns = new Map();  // J, Z -> Map(each letter the speller took a hand read as it for -> when, last)
    this.signKey = null;  // the hand the sign going on began on
    this.lastTs = -1;
    this.canvas = null;
    this.adapter = settings.adapt ? new SignerAdapter(classifier.classes, adaptation) : null;
    if (this.adapter) {  // the classifier applies it; confirmed words teach it
      classifier.adapter = this.adapter;
      text.onFinished = (w) => this.adapter.learn(w, w.shown, w.letters, w.samples, w.confirmed);
    }
  }

  /** Hands in `frame` (width x height) read with a border of `border` x its longer side,
   * in units of the frame's longer side: [{landmarks, handedness, score, right}]. */
  read(frame, width, height, way, ts) {
    const [byLastResort, border] = this.ways[way];
    let source = frame, scale = 1, offset = 0, w = width, h = height;
    if (border) {
      const side = Math.max(width, height);
      const pad = roundHalfEven(border * side);
      source = this.padded(frame, width, height, pad);
      [w, h, scale, offset] = [width + 2 * pad, height + 2 * pad, (side + 2 * pad) / side, pad / side];
    }
    this.lastTs = Math.max(Math.trunc(ts), this.lastTs + 1);
    const result = (byLastResort ? this.lastResort : this.landmarker).detectForVideo(source, this.lastTs);
    return result.landmarks.map((marks, i) => {
      const landmarks = toProjectUnits(marks, w, h);
      if (border) {
        for (let k = 0; k < landmarks.length; k++) landmarks[k] = landmarks[k] * scale - (k % 3 < 2 ? offset : 0);
      }
      const { categoryName, score } = result.handedness[i][0];
      return { landmarks, handedness: categoryName, score, right: rightProbability(categoryName, score) };
    });
  }

  /** `frame` with a replicated-edge border of `pad` pixels (cv2.BORDER_REPLICATE). */
  padded(frame, width, height, pad) {
    const [W, H] = [width + 2 * pad, height + 2 * pad];
    if (!this.canvas || this.canvas.width !== W || this.canvas.height !== H) {
      this.canvas = new OffscreenCanvas(W, H);
    }
    const ctx = this.canvas.getContext("2d", { willReadFrequently: false });
    ctx.imageSmoothingEnabled = false;  // a 1-pixel strip stretched stays that pixel
    const cols = [[0, 1, 0, pad], [0, width, pad, width], [width - 1, 1, pad + width, pad]];
    const rows = [[0, 1, 0, pad], [0, height, pad, height], [height - 1, 1, pad + height, pad]];
    for (const [sx, sw, dx, dw] of cols) {
      for (const [sy, sh, dy, dh] of rows) {
        if (dw > 0 && dh > 0) ctx.drawImage(frame, sx, sy, sw, sh, dx, dy, dw, dh);
      }
    }
    return this.canvas;
  }

  /** A hand read as the other hand keeps the smoothing and motion it had under its earlier label:
   * a hand under a label with nothing kept takes over the nearest hand not in this frame whose
   * state is kept, within settings.relabel_palms palm sizes; its J/Z path starts again
   * (recogniser.py's _follow_relabelled). */
  followRelabelled(hands, keys) {
    const gone = [...this.motions.keys()].filter((k) => !keys.includes(k));
    hands.forEach((hand, i) => {
      if (this.motions.has(keys[i]) || !gone.length) return;
      const palms = new Map(gone.map((k) => [k, this.motions.get(k).palmsFrom(hand.landmarks)]));
      const near = gone.reduce((a, b) => (palms.get(b) < palms.get(a) ? b : a));
      if (palms.get(near) > this.settings.relabel_palms) return;
      gone.splice(gone.indexOf(near), 1);
      if (this.signKey === near) this.signKey = keys[i];
      for (const states of [this.smoothers, this.motions]) {
        if (states.has(near)) {
          states.set(keys[i], states.get(near));
          states.delete(near);
        } else states.delete(keys[i]);
      }
    });
  }

  /** Recognise one frame taken at `t` ms (increasing); the FrameResult of recogniser.py. */
  async process(frame, width, height, t) {
    const t0 = performance.now();
    const hands = this.readFrame(frame, width, height, t);
    this.trackAbsence(hands.length > 0, t);
    const t1 = performance.now();
    const scores = hands.length ? await this.classifier.predict(hands) : { proba: [], hidden: null };
    const proba = scores.proba;
    const keys = handKeys(hands);
    this.followRelabelled(hands, keys);
    for (const [key, smoother] of this.smoothers) {
      if (keys.includes(key)) continue;
      smoother.update(t, null);
      this.motions.get(key)?.lost();
      this.paths.get(key)?.update(t, null, null);
    }
    const motions = [];
    const noise = this.settings.motion_floor_px / Math.max(width, height);  // pixels -> landmark units
    const results = hands.map((hand, i) => {
      let smoother = this.smoothers.get(keys[i]);
      if (!smoother) {
        smoother = new Smoother(this.classifier.classes, this.settings.smooth_ms, this.settings.threshold);
        this.smoothers.set(keys[i], smoother);
      }
      if (!this.motions.has(keys[i])) {
        this.motions.set(keys[i], new HandMotion(this.settings.motion_ms, this.settings.settle_ms));
      }
      motions.push(this.motions.get(keys[i]).update(t, hand.landmarks, noise));
      return { hand, prediction: smoother.update(t, proba[i]) };
    });
    const moves = motions.map((m) => m > this.settings.move_threshold);
    const motionLetter = this.motionLetter(hands, keys, t, moves);
    for (const [key, smoother] of this.smoothers) if (smoother.empty) this.smoothers.delete(key);
    for (const key of this.motions.keys()) if (!this.smoothers.has(key)) this.motions.delete(key);
    for (const key of this.paths.keys()) if (!this.smoothers.has(key)) this.paths.delete(key);
    const chosen = best(results.map((r) => r.prediction));
    const handIndex = results.findIndex((r) => r.prediction === chosen);
    const moving = handIndex >= 0 && (moves[handIndex] || this.handGone(keys[handIndex], keys, t));
    // With a motion model J and Z are committed from the hand's path only (recogniser.py).
    const [letter, signProba] = this.motionModel
      ? stillReading(chosen.letter, chosen.proba, this.classifier.classes, this.settings.threshold)
      : [chosen.letter, chosen.proba];
    if (this.motionModel && letter !== null && letter !== chosen.letter) {
      if (!this.standIns.has(chosen.letter)) this.standIns.set(chosen.letter, new Map());
      this.standIns.get(chosen.letter).set(letter, t);
    }
    const signing = this.speller.signing;
    let committed = this.speller.update(t, letter, signProba, moving);
    if (handIndex >= 0 && this.speller.signing && !signing) this.signKey = keys[handIndex];
    const spelling = chosen.letter !== null ? handIndex : -1;
    if (committed !== null) {
      const sample = spelling >= 0 && scores.hidden && scores.hidden[spelling]
        ? [scores.calibrated[spelling], scores.hidden[spelling]] : null;
      this.text.commit(committed, this.speller.signProba, sample, t);
    }
    const motion = motionLetter === null ? null : this.commitMotion(motionLetter, chosen.letter);
    committed = motion ?? committed;
    return {
      hands: results, spelling: spelling < 0 ? null : spelling, committed, text: this.text.text,
      progress: this.speller.progress(t), letters: this.text.letters, suggestions: this.text.suggestions,
      timings: { landmarker: t1 - t0, model: performance.now() - t1 },
      adapted: this.adapter ? this.adapter.samples : null, motion,
    };
  }

  /** True when the sign going on began on another hand than `key`, one no longer in view, and
   * hand `key` has just been found (within settings.settle_ms): the sign has ended
   * (recogniser.py's _hand_gone). */
  handGone(key, keys, t) {
    return this.speller.signing && this.signKey !== null && this.signKey !== key && !keys.includes(this.signKey)
      && this.motions.get(key).foundMs >= t - this.settings.settle_ms;
  }

  /** Each hand's path (and whether it is moving) to its MotionLetters; a J or Z read from one of
   * them (null: none). */
  motionLetter(hands, keys, t, moves) {
    if (!this.motionModel) return null;
    let found = null;
    hands.forEach((hand, i) => {
      if (!this.paths.has(keys[i])) this.paths.set(keys[i], new MotionLetters(this.motionModel));
      found = this.paths.get(keys[i]).update(t, hand.landmarks, hand.handedness, moves[i]) || found;
    });
    return found;
  }

  /** A J or Z read from motion while the hand reads `reading` (null: unsure): unless that is a
   * letter of another shape, it replaces what the static model committed during the motion and the
   * sign it began from, and the sign it ends in (read as a letter like its start) commits nothing.
   * A start read as the motion's letter, which the speller took as another, counts as its start. */
  commitMotion(motion, reading) {
    const classes = this.classifier.classes;
    const c = classes.indexOf(motion.letter);
    let starts = this.settings.motion_starts[motion.letter] ?? motion.letter;
    for (const [letter, seen] of this.standIns.get(motion.letter) ?? []) {
      if (seen >= motion.startMs - this.settings.motion_lead_ms && !starts.includes(letter)) starts += letter;
    }
    if (c < 0 || (reading !== null && !starts.includes(reading))) return null;
    this.speller.claim(motion.tMs + this.settings.motion_absorb_ms, starts);
    const proba = new Float32Array(classes.length).fill((1 - motion.probability) / (classes.length - 1));
    proba[c] = motion.probability;
    this.text.commitMotion(motion.letter, proba, motion.startMs, starts, this.settings.motion_lead_ms);
    return motion.letter;
  }

  /** The hands of the frame read the way frames are read now; while the last resort holds the
   * hand, every probe_frames-th frame is read by the landmarker first, which keeps the hand if it
   * finds it. */
  readFrame(frame, width, height, t) {
    const [byLastResort, border] = this.ways[this.way];
    if (byLastResort && this.held % this.settings.probe_frames === this.settings.probe_frames - 1) {
      const own = this.ways.findIndex(([last, b]) => !last && b === border);
      const hands = this.read(frame, width, height, own, t);
      if (hands.length) {
        this.way = own;
        return hands;
      }
    }
    return this.read(frame, width, height, this.way, t);
  }

  /** Word pause and re-acquisition: how long the frames have been without a hand. */
  trackAbsence(found, t) {
    if (found) {
      this.noHandSince = null;
      this.held = this.ways[this.way][0] ? this.held + 1 : 0;
      return;
    }
    const lostNow = this.noHandSince === null;
    if (lostNow) this.noHandSince = t;
    const away = t - this.noHandSince;
    if (away >= this.settings.word_pause_s * 1000) this.text.endWord();
    this.way = lostNow ? 0 : (this.way + 1) % this.ways.length;
  }

  /** Empty the spelled text. */
  clear() {
    this.text.clear();
    this.speller.release();
    this.paths.clear();  // a new MotionLetters per hand from the next frame
  }

  /** Someone else signs now: forget what signer adaptation and the decoder's swaps have learnt. */
  newSigner() {
    if (this.adapter) this.adapter.reset();
    this.text.decoder?.newSigner();  // the decoder's swaps and pace learnt from this signer's words
    this.paths.clear();  // a new MotionLetters per hand from the next frame
  }
}

const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

/** main.py's JSONL line for a frame. */
export function frameRecord(index, t, result) {
  return {
    frame: index, time_ms: round(t, 3),
    hands: result.hands.map(({ hand, prediction }) => ({
      handedness: hand.handedness, letter: prediction.letter,
      confidence: prediction.confidence === null ? null : round(prediction.confidence, 4),
    })),
    text: result.text, letters: result.letters, suggestions: [...result.suggestions],
    adapted: result.adapted,
  };
}
