// The page's copy of text_entry.py: what committed signs write (letters, `space`, `del`), word
// boundaries rescored by the lexicon (word_decoder.js), suggestions, choose and undo; each finished
// word (and the same word after a choice or an undo) goes to `onFinished` (signer adaptation).

import { DELETE, SPACE } from "./speller.js";

export class TextEntry {
  /** `decoder`: a WordDecoder, or null to keep every word as committed. */
  constructor(decoder = null, onWord = null, onFinished = null) {
    this.decoder = decoder;
    this.onWord = onWord;
    this.onFinished = onFinished;
    this.clear();
  }

  /** Empty the text. */
  clear() {
    this.done = "";  // the finished text, as shown
    this.doneLetters = "";  // the finished text, as committed
    this.word = [];
    this.probs = [];
    this.samples = [];
    this.times = [];  // when each letter of the word committed (ms; null: unknown)
    this.last = null;  // {start, letters, shown, suggestions, samples, confirmed}
  }

  /** What the user sees. */
  get text() { return this.done + this.word.join(""); }

  /** The committed letters, before any correction. */
  get letters() { return this.doneLetters + this.word.join(""); }

  /** The decoder's best words for the last finished word. */
  get suggestions() { return this.last ? this.last.suggestions : []; }

  /** True while a word is being spelled. */
  get spelling() { return this.word.length > 0; }

  /** Apply a committed class with its sign's probabilities (Speller.signProba: the mean of the
   * smoothed readings over the sign) (and, for signer adaptation, the hand's sample as the model
   * saw it), committed at `t`. */
  commit(cls, proba = null, sample = null, t = null) {
    if (cls === SPACE) {
      if (!this.endWord()) {
        this.done += " ";
        this.doneLetters += " ";
      }
    } else if (cls === DELETE) {
      if (this.word.length) {
        this.pop();
      } else if (this.done) {
        this.done = this.done.slice(0, -1);
        this.doneLetters = this.doneLetters.slice(0, -1);
        this.last = null;
      }
    } else {
      this.word.push(cls);
      this.probs.push(proba);
      this.samples.push(sample);
      this.times.push(t);
    }
  }

  /** Add `letter`, read from a motion that began at `startMs`, in place of the word's letters
   * committed since then and of a letter of `starts` committed less than `leadMs` before. */
  commitMotion(letter, proba, startMs, starts, leadMs) {
    const last = () => this.times[this.times.length - 1];
    while (this.times.length && last() !== null && last() >= startMs) this.pop();
    if (this.word.length && starts.includes(this.word[this.word.length - 1]) && last() !== null
        && last() >= startMs - leadMs) this.pop();
    this.commit(letter, proba, null, startMs);
  }

  /** Remove the last letter of the word being spelled. */
  pop() {
    for (const letters of [this.word, this.probs, this.samples, this.times]) letters.pop();
  }

  /** End the word being spelled (rescored) and add a space unless `space` is false; false when
   * no word was being spelled. */
  endWord(space = true) {
    if (!this.word.length) return false;
    const letters = this.word.join("");
    let shown = letters, suggestions = [];
    if (this.decoder && /^[A-Z]+$/.test(letters) && this.probs.every((p) => p !== null)) {
      const decoded = this.decoder.decode(letters, this.probs, this.times);
      shown = decoded.text;
      suggestions = decoded.suggestions.map((c) => c.word);
    }
    const confirmed = Boolean(this.decoder && this.decoder.words && this.decoder.words.has(shown));
    this.last = { start: this.done.length, letters, shown, suggestions, samples: this.samples, confirmed };
    const gap = space ? " " : "";
    this.done += shown + gap;
    this.doneLetters += letters + gap;
    this.word = [];
    this.probs = [];
    this.samples = [];
    this.times = [];
    if (this.onWord) this.onWord(shown);
    if (this.onFinished) this.onFinished(this.last);
    return true;
  }

  /** Show suggestion `index` (0 = best) for the last finished word; false if there is none. */
  choose(index) {
    if (!this.last || index < 0 || index >= this.last.suggestions.length) return false;
    return this.show(this.last.suggestions[index]);
  }

  /** Show the last finished word as committed; false when it already is. */
  undo() {
    return this.last !== null && this.show(this.last.letters);
  }

  show(word) {
    const last = this.last;
    if (!last || last.shown === word) return false;
    const end = last.start + last.shown.length;
    this.done = this.done.slice(0, last.start) + word + this.done.slice(end);
    last.shown = word;
    last.confirmed = true;
    if (this.onFinished) this.onFinished(last);
    return true;
  }
}
