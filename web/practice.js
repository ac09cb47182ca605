// Practice mode's rules, with no page in them: a session is a list of target words; each letter the
// speller commits is compared with the current target letter (right: it is done and the next one
// becomes current; wrong: it is a miss, kept in the target's `reads`, and the learner tries again).
// `del`, `space` and `nothing` are ignored.  Double letters need their release as in spelling: the
// speller commits a letter again only after the hand has changed or gone (speller.js), so nothing
// here has to know about them.  Times are the frames' times (ms, the camera's clock).

/** Commits that are not letters: never scored. */
export const IGNORED = new Set(["del", "space", "nothing"]);
/** Words a session of a word level takes from its list (at random). */
export const WORDS_PER_SESSION = 5;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** The levels, in order: `list` names the word list (/practice.json) a word level draws from. */
export const LEVELS = [
  { id: "letters", name: "Letters A–Z, in order" },
  { id: "shuffled", name: "Letters A–Z, shuffled" },
  { id: "short", name: "Short words", list: "short" },
  { id: "long", name: "Longer words", list: "long" },
  { id: "names", name: "Names", list: "names" },
];

/** `?practice=` words ("hello,world"): upper-case words; an Error with a one-line message for
 * anything but letters A-Z and commas. */
export function parseWords(text) {
  const words = text.split(",").map((w) => w.trim().toUpperCase()).filter((w) => w.length);
  if (!words.length || !words.every((w) => /^[A-Z]+$/.test(w))) {
    throw new Error(`?practice=${text}: give words of the letters A–Z, separated by commas (?practice=HELLO,WORLD)`);
  }
  return words;
}

/** `count` items of `list` in a random order, none twice (`random`: () => [0, 1)). */
function pick(list, count, random) {
  const order = [...list];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count);
}

/** The words of a new session of level `id` (`lists`: /practice.json's lists): each letter a
 * word of its own for the letter levels, WORDS_PER_SESSION words of its list for the others. */
export function levelWords(id, lists, random = Math.random) {
  const level = LEVELS.find((l) => l.id === id);
  if (!level) throw new Error(`no practice level ${id}`);
  if (id === "letters") return [...ALPHABET];
  if (id === "shuffled") return pick([...ALPHABET], ALPHABET.length, random);
  return pick(lists[level.list], WORDS_PER_SESSION, random);
}

export class PracticeSession {
  /** A session on `words` (upper-case A-Z), of level `level` ("custom" for ?practice= words). */
  constructor(words, level = "custom") {
    this.level = level;
    this.words = words.map((word) => ({
      word, skipped: false, letters: [...word].map((target) => ({ target, reads: [], done: false, doneMs: null })),
    }));
    this.index = 0;  // the current word
    this.startedMs = null;  // the first frame's time
    this.finishedMs = null;
  }

  get finished() { return this.finishedMs !== null; }

  /** The current word's entry. */
  get entry() { return this.words[this.index]; }

  /** The current target letter's entry (null once finished). */
  get current() {
    return this.finished ? null : this.entry.letters.find((letter) => !letter.done) ?? null;
  }

  /** True when the current letter repeats the letter just done (in its word, or the last of the
   * word before): the speller commits it only after a release. */
  get double() {
    const letters = this.entry.letters, i = letters.indexOf(this.current);
    const before = i > 0 ? letters[i - 1] : this.index > 0 ? this.words[this.index - 1].letters.at(-1) : null;
    return i >= 0 && before !== null && before.done && before.target === letters[i].target;
  }

  /** A frame at `t`: the session's clock starts at its first frame. */
  tick(t) {
    if (this.startedMs === null) this.startedMs = t;
  }

  /** Score the class committed at `t`: {kind: "ignored" | "right" | "miss", target, read}, and
   * `word` (the word just completed) and `finished` when a right letter ends them. */
  commit(cls, t) {
    const letter = this.current;
    if (letter === null || IGNORED.has(cls)) return { kind: "ignored", read: cls };
    this.tick(t);
    letter.reads.push(cls);
    if (cls !== letter.target) return { kind: "miss", target: letter.target, read: cls };
    letter.done = true;
    letter.doneMs = t;
    const event = { kind: "right", target: letter.target, read: cls };
    if (this.current === null) Object.assign(event, this.advance(t));
    return event;
  }

  /** Skip the current word at `t` (its letters not done stay so); {word, finished}. */
  skip(t) {
    if (this.finished) return { word: null, finished: true };
    this.tick(t);
    this.entry.skipped = true;
    return this.advance(t);
  }

  /** On to the next word, or the end of the session at `t`. */
  advance(t) {
    const word = this.entry.word;
    if (this.index + 1 < this.words.length) this.index += 1;
    else this.finishedMs = t;
    return { word, finished: this.finished };
  }

  /** The session's figures: seconds from its first frame to its end (or to `t` while it runs),
   * letters right (done), right letters a minute, letters right at the first try, and the
   * letters with the most misses (at most three, with what they were read as). */
  summary(t = this.finishedMs) {
    const letters = this.words.flatMap((w) => w.letters);
    const right = letters.filter((l) => l.done).length;
    const seconds = this.startedMs === null || t === null ? 0 : (t - this.startedMs) / 1000;
    const misses = new Map();
    for (const l of letters) {
      const wrong = l.reads.filter((r) => r !== l.target);
      if (!wrong.length && l.done) continue;
      const entry = misses.get(l.target) ?? { letter: l.target, misses: 0, readAs: [] };
      entry.misses += wrong.length + (l.done ? 0 : 1);  // a letter never signed right counts once more
      entry.readAs.push(...wrong);
      misses.set(l.target, entry);
    }
    const hardest = [...misses.values()].sort((a, b) => b.misses - a.misses || (a.letter < b.letter ? -1 : 1));
    return {
      seconds, letters: letters.length, right,
      rightPerMinute: seconds > 0 ? right / seconds * 60 : null,
      firstTry: letters.filter((l) => l.reads[0] === l.target).length,
      skipped: this.words.filter((w) => w.skipped).length,
      hardest: hardest.slice(0, 3),
    };
  }

  /** `window.asl.practice`: a copy of the session (scripts cannot change it). */
  state() {
    const words = this.words.map((w) => ({ word: w.word, skipped: w.skipped, letters: w.letters.map((l) => ({ ...l, reads: [...l.reads] })) }));
    return {
      level: this.level, word: this.entry.word, index: this.index, letters: words[this.index].letters, words,
      finished: this.finished, startedMs: this.startedMs, finishedMs: this.finishedMs,
      summary: this.finished ? this.summary() : null,
    };
  }
}
