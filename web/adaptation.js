// The page's copy of adaptation.py: signer adaptation.  Each confirmed word (a lexicon word, or a
// suggestion or the letters the user took) teaches a correction of the model's calibrated logits,
// hidden @ W^T (W zero in the rows of del, nothing and space), fitted by full-batch Adam with an L2
// pull toward zero.  Its settings come from /config.json ("adaptation"), read from adaptation.py.

const BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;

export class SignerAdapter {
  /** `settings`: {l2, steps, learning_rate, max_samples}. */
  constructor(classes, settings) {
    this.classes = classes;
    this.s = settings;
    this.letters = classes.map((c) => /^[A-Z]$/.test(c));
    this.words = [];  // [word, [[calibrated, hidden, label], ...]], oldest first
    this.weight = null;  // Float32Array, classes x hidden
    this.width = 0;
  }

  /** Confirmed letters learnt from. */
  get samples() { return this.words.reduce((n, [, taken]) => n + taken.length, 0); }

  /** What to add to one hand's calibrated logits, for its hidden layer (Float32Array). */
  correction(hidden) {
    const out = new Float32Array(this.classes.length);
    if (!this.weight) return out;
    for (let c = 0; c < out.length; c++) {
      let sum = 0;
      for (let j = 0; j < this.width; j++) sum += hidden[j] * this.weight[c * this.width + j];
      out[c] = sum;
    }
    return out;
  }

  /** Take (or, for the same `word` object again, retake) a finished word's samples, labelled with
   * `shown` position by position when it is confirmed and as long as the letters; refit. */
  learn(word, shown, letters, samples, confirmed) {
    let taken = [];
    if (confirmed && shown.length === letters.length && letters.length === samples.length) {
      taken = [...shown].map((c, i) => [samples[i], this.classes.indexOf(c)])
        .filter(([s, label]) => s !== null && label >= 0).map(([s, label]) => [s[0], s[1], label]);
    }
    const again = this.words.length > 0 && this.words[this.words.length - 1][0] === word;
    if (!taken.length && !again) return;
    if (again) this.words.pop();
    if (taken.length) this.words.push([word, taken]);
    while (this.samples > this.s.max_samples && this.words.length > 1) this.words.shift();
    this.fit();
  }

  /** Forget every word learnt (someone else signs now): no correction until the next one. */
  reset() {
    this.words = [];
    this.weight = null;
  }

  /** Fit the correction on every kept sample (none: no correction). */
  fit() {
    const rows = this.words.flatMap(([, taken]) => taken);
    if (!rows.length) {
      this.weight = null;
      return;
    }
    const n = rows.length, k = this.classes.length, width = rows[0][1].length;
    const w = new Float64Array(k * width), m = new Float64Array(k * width), v = new Float64Array(k * width);
    const grad = new Float64Array(k * width), logits = new Float64Array(k);
    for (let step = 1; step <= this.s.steps; step++) {
      grad.fill(0);
      for (const [z, h, label] of rows) {
        let top = -Infinity;
        for (let c = 0; c < k; c++) {
          let sum = z[c];
          for (let j = 0; j < width; j++) sum += h[j] * w[c * width + j];
          logits[c] = sum;
          if (sum > top) top = sum;
        }
        let total = 0;
        for (let c = 0; c < k; c++) total += (logits[c] = Math.exp(logits[c] - top));
        for (let c = 0; c < k; c++) {
          const error = (logits[c] / total - (c === label ? 1 : 0)) / n;
          for (let j = 0; j < width; j++) grad[c * width + j] += error * h[j];
        }
      }
      const c1 = 1 - BETA1 ** step, c2 = 1 - BETA2 ** step;
      for (let i = 0; i < w.length; i++) {
        const g = this.letters[Math.floor(i / width)] ? grad[i] + 2 * this.s.l2 * w[i] : 0;
        m[i] = BETA1 * m[i] + (1 - BETA1) * g;
        v[i] = BETA2 * v[i] + (1 - BETA2) * g * g;
        w[i] -= this.s.learning_rate * (m[i] / c1) / (Math.sqrt(v[i] / c2) + EPS);
      }
    }
    this.weight = Float32Array.from(w);
    this.width = width;
  }
}
