// The page's copy of speller.py: smoothing (majority vote + mean probability over a time
// window), the hand's motion, and one letter per held sign with short dips bridged.  The rules
// are speller.py's module docstring; tests/test_web_page.py feeds the same streams to both and
// compares the text.

export const SPACE = "space", DELETE = "del", NOTHING = "nothing";
export const NO_HAND = Object.freeze({ letter: null, confidence: null, proba: null });

/** Majority vote plus averaged probabilities over the frames of the last `windowMs`. */
export class Smoother {
  constructor(classes, windowMs, threshold) {
    this.classes = classes;
    this.windowMs = windowMs;
    this.threshold = threshold;
    this.frames = [];  // [t, proba or null]
  }

  /** True when no frame of the window had a hand (the hand has gone). */
  get empty() {
    return this.frames.every(([, p]) => p === null);
  }

  /** Add this frame's probabilities (null or NaN: no usable hand); the smoothed prediction. */
  update(t, proba) {
    if (proba && !proba.every(Number.isFinite)) proba = null;
    this.frames.push([t, proba ?? null]);
    while (this.frames[0][0] <= t - this.windowMs && this.frames.length > 1) this.frames.shift();
    const present = this.frames.map(([, p]) => p).filter((p) => p !== null);
    if (!present.length) return NO_HAND;
    const n = this.classes.length;
    const mean = new Float64Array(n), votes = new Int32Array(n);
    for (const p of present) {
      let top = 0;
      for (let c = 0; c < n; c++) {
        mean[c] += p[c];
        if (p[c] > p[top]) top = c;
      }
      votes[top] += 1;
    }
    for (let c = 0; c < n; c++) mean[c] /= present.length;
    let winner = 0;  // most votes, then the higher mean; full ties go to the later class (np.lexsort)
    for (let c = 1; c < n; c++) {
      if (votes[c] > votes[winner] || (votes[c] === votes[winner] && mean[c] >= mean[winner])) winner = c;
    }
    if (this.frames.length - present.length > votes[winner]) return NO_HAND;
    const confidence = mean[winner];
    return { letter: confidence >= this.threshold ? this.classes[winner] : null, confidence, proba: mean };
  }
}

/** The prediction with a letter and the highest confidence; when no hand shows a letter, the
 * most confident hand (its letter null); NO_HAND without a hand. */
export function best(predictions) {
  let chosen = NO_HAND;
  for (const p of predictions) {
    if (p.confidence === null) continue;
    const better = chosen.confidence === null || (p.letter !== null) > (chosen.letter !== null)
      || ((p.letter !== null) === (chosen.letter !== null) && p.confidence > chosen.confidence);
    if (better) chosen = p;
  }
  return chosen;
}

/** The mean side of the palm triangle wrist - index knuckle - little-finger knuckle (flat x, y, z
 * landmarks). */
export function palmSize(xy) {
  const d = (a, b) => Math.hypot(xy[3 * a] - xy[3 * b], xy[3 * a + 1] - xy[3 * b + 1]);
  return (d(0, 5) + d(0, 17) + d(5, 17)) / 3;
}

/** The mean distance between the landmarks of two frames (flat, x and y; speller.py's mean_shift). */
function meanShift(landmarks, old) {
  let sum = 0;
  for (let k = 0; k < 21; k++) sum += Math.hypot(landmarks[3 * k] - old[3 * k], landmarks[3 * k + 1] - old[3 * k + 1]);
  return sum / 21;
}

/** How far one hand has moved over the last `windowMs`, in palm sizes, not counting the first
 * `settleMs` after it appears, one frame's jump, nor a shift of at most `noise` (landmark units)
 * (speller.py's HandMotion). */
export class HandMotion {
  constructor(windowMs, settleMs = 0) {
    this.windowMs = windowMs;
    this.settleMs = settleMs;
    this.frames = [];  // [t, landmarks (flat, 63)]
    this.foundMs = null;  // when the hand was first seen
    this.settledAt = -Infinity;
    this.isLost = true;
    this.last = 0;  // the previous frame's motion
  }

  /** A frame without the hand: the next one it appears in starts settling again. */
  lost() {
    this.isLost = true;
  }

  /** How far `landmarks` lie from the hand's last frame, in palm sizes (Infinity before any frame). */
  palmsFrom(landmarks) {
    if (!this.frames.length) return Infinity;
    return meanShift(landmarks, this.frames[this.frames.length - 1][1]) / Math.max(palmSize(landmarks), 1e-6);
  }

  /** Add the hand's landmarks at `t`; how far it has moved (0 for a shift of at most `noise`). */
  update(t, landmarks, noise = 0) {
    let moved = 0;
    if (this.foundMs === null) this.foundMs = t;
    const reappeared = this.isLost;
    if (reappeared) {  // the last frame seen is the only reference, then it settles
      if (this.frames.length) moved = meanShift(landmarks, this.frames[this.frames.length - 1][1]);
      this.frames = [];
      [this.settledAt, this.isLost] = [t + this.settleMs, false];
    } else {
      // at least the two frames before this one: at a few frames a second a move is one frame's jump
      while (this.frames.length > 2 && this.frames[0][0] < t - this.windowMs) this.frames.shift();
      if (t >= this.settledAt) for (const [, old] of this.frames) moved = Math.max(moved, meanShift(landmarks, old));
    }
    this.frames.push([t, landmarks]);
    moved = moved <= noise ? 0 : moved / Math.max(palmSize(landmarks), 1e-6);
    const held = reappeared ? moved : Math.min(moved, this.last);  // one frame's jump (a glitch) is no movement
    this.last = moved;
    return held;
  }
}

/** One letter per held sign; `update` returns the class committed. */
export class Speller {
  constructor(holdMs, gapMs = 0, classes = null, stillMs = 0) {
    this.holdMs = holdMs;
    this.gapMs = gapMs;
    this.classes = classes;
    this.stillMs = stillMs;  // how long a hand has been still when it stops moving (the motion window)
    this.afterMove = false;  // the last frame was moving
    this.committed = null;  // the last class committed
    this.claimedUntil = -Infinity;  // the next sign is claimed if it begins before this
    this.claimedLetters = "";  // a claimed sign read as one of these belongs to a motion letter
    this.claimed = false;  // the sign going on is claimed
    this.claimNext = false;  // the next sign to begin is claimed (if it begins in time)
    this.release();
  }

  /** End the sign, as if the hand had moved or been lowered (the next letter may repeat the last). */
  release() {
    this.current = null;
    this.began = null;  // when the sign began (its first still frame)
    this.first = 0;  // the sign's first frame
    this.start = null;
    this.seen = 0;
    this.done = false;
    this.mass = null;
    this.frames = 0;
  }

  /** A motion letter was read: the sign going on, and the next sign if it begins before
   * `untilMs`, are part of it (commit nothing) when they read as one of `letters`. */
  claim(untilMs, letters) {
    [this.claimedUntil, this.claimedLetters] = [untilMs, letters];
    [this.claimed, this.claimNext] = [this.began !== null, true];
  }

  /** True while a sign goes on (the hand has been still since it began). */
  get signing() {
    return this.began !== null;
  }

  /** The sign's mean probabilities over its letter frames (null before any). */
  get signProba() {
    return this.mass === null ? null : this.mass.map((m) => m / this.frames);
  }

  /** How far the sign is towards committing, 0..1. */
  progress(t) {
    if (this.done || this.start === null || this.current === null) return 0;
    return this.holdMs <= 0 ? 1 : Math.min(1, (t - this.holdStart()) / this.holdMs);
  }

  /** When the hold began: with the sign's first letter, when the hand came to rest, but for a
   * repeat of the letter committed last at its first still frame (speller.py's _hold_start). */
  holdStart() {
    return this.current === this.committed ? Math.max(this.start, this.first) : this.start;
  }

  /** Feed the frame at `t`: its stable letter (null: none), its hand's smoothed probabilities
   * (null: no hand) and whether the hand is moving; the class committed now. */
  update(t, letter, proba = null, moving = false) {
    if (moving) {
      this.release();
      this.afterMove = true;
      return null;
    }
    if (this.began === null) {  // a sign right after a movement began when the hand came to rest
      this.began = t - (this.afterMove ? this.stillMs : 0);
      this.first = t;
      [this.claimed, this.claimNext] = [this.claimNext && this.began < this.claimedUntil, false];
    }
    this.afterMove = false;
    if (letter === null || letter === NOTHING) {
      const away = letter === NOTHING || proba === null;
      if (this.start !== null && t - this.seen <= this.gapMs) return null;  // a dip: bridged for now
      if (away) this.release();
      else this.start = this.current = null;  // unsure on a still hand: the same sign
      return null;
    }
    if (this.start === null) this.start = t === this.first ? this.began : t;
    [this.current, this.seen] = [letter, t];
    if (proba !== null) {
      if (this.mass === null) this.mass = Array.from(proba, Number);
      else for (let c = 0; c < this.mass.length; c++) this.mass[c] += proba[c];
      this.frames += 1;
    }
    if (this.done || t - this.holdStart() < this.holdMs) return null;
    this.done = true;
    const cls = this.signClass(letter);
    if (this.claimed && this.claimedLetters.includes(cls)) return null;
    this.committed = cls;
    return cls;
  }

  /** The class with the most probability mass over the sign (not `nothing`). */
  signClass(letter) {
    if (this.mass === null || this.classes === null) return letter;
    let top = -1;
    for (let c = 0; c < this.mass.length; c++) {
      if (this.classes[c] !== NOTHING && (top < 0 || this.mass[c] > this.mass[top])) top = c;
    }
    return this.classes[top];
  }
}
