// The page's copy of speller.py: smoothing (majority vote + mean probability over a time
// window) and hold-to-commit with short dips bridged.  The rules are speller.py's module
// docstring; tests/test_web_page.py feeds the same streams to both and compares the text.

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

/** The prediction with a letter and the highest confidence (NO_HAND when none has one). */
export function best(predictions) {
  let chosen = NO_HAND;
  for (const p of predictions) {
    if (p.letter !== null && (chosen.letter === null || p.confidence > chosen.confidence)) chosen = p;
  }
  return chosen;
}

/** Hold-to-commit with dips of up to `gapMs` bridged; `update` returns the class committed. */
export class Speller {
  constructor(holdMs, gapMs = 0) {
    this.holdMs = holdMs;
    this.gapMs = gapMs;
    this.release();
  }

  /** Restart the hold as if the hand had been lowered (the next letter may repeat the last). */
  release() {
    this.current = null;
    this.since = this.seen = 0;
    this.committed = null;
    this.other = null;
    this.otherSince = 0;
  }

  /** How far the current letter is towards committing, 0..1. */
  progress(t) {
    if (this.current === null || this.current === this.committed) return 0;
    return this.holdMs <= 0 ? 1 : Math.min(1, (t - this.since) / this.holdMs);
  }

  /** Feed the stable letter of the frame at `t` (null: no letter); the class committed now. */
  update(t, letter) {
    letter = letter === NOTHING ? null : letter;
    if (letter === null || letter !== this.current) {
      if (this.current !== null && t - this.seen <= this.gapMs) {  // a dip: bridged for now
        if (letter !== this.other) [this.other, this.otherSince] = [letter, t];
        return null;
      }
      if (letter === null) {
        this.release();
        return null;
      }
      this.current = letter;
      this.since = letter === this.other ? this.otherSince : t;
    }
    this.seen = t;
    this.other = null;
    if (letter === this.committed || t - this.since < this.holdMs) return null;
    this.committed = letter;
    return letter;
  }
}
