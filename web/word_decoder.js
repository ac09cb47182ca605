// The page's copy of word_decoder.py: a finished word's committed letters rescored against the
// lexicon (a beam search over a prefix trie allowing one missed and one extra letter, with a
// word-frequency prior, and with a confusion channel, how new people's letters get misread and
// this signer's own swaps: confusion_channel.py; a letter missed between two committed ones costs
// more where they came at the signer's usual pace, with no time for another sign).  Its settings
// come from the server's /config.json ("decoder"), which reads them from word_decoder.py and
// confusion_channel.py, so both sides score alike.  Iteration orders follow the Python dicts
// (insertion order) so ties break the same way.

const ALPHABET = Array.from({ length: 26 }, (_, i) => String.fromCharCode(65 + i));

class TrieNode {
  constructor() {
    this.children = new Map();  // letter index 0-25 -> TrieNode
    this.word = null;
    this.logProb = -Infinity;
    this.best = -Infinity;
    this.states = [];  // the search states at this node (`state`)
  }
}

/** The prefix trie of [word, logProb] pairs (most frequent first through each node). */
function buildTrie(words) {
  const root = new TrieNode();
  const sorted = [...words].sort((a, b) => b[1] - a[1]);  // stable, as Python's sorted
  for (const [word, logProb] of sorted) {
    let node = root;
    for (const ch of word) {
      if (node.best === -Infinity) node.best = logProb;
      const k = ch.charCodeAt(0) - 65;
      let child = node.children.get(k);
      if (!child) node.children.set(k, (child = new TrieNode()));
      node = child;
    }
    if (node.best === -Infinity) node.best = logProb;
    node.word = word;
    node.logProb = logProb;
  }
  return root;
}

/** Store `score` under `key` unless a higher one is there. */
function keep(scores, key, score) {
  if (score > (scores.has(key) ? scores.get(key) : -Infinity)) scores.set(key, score);
}

/** The `n` largest entries of a Map by `value(key, score)`, in order (stable for ties). */
function largest(scores, n, value) {
  return [...scores].map((e, i) => [e, value(e[0], e[1]), i])
    .sort((a, b) => b[1] - a[1] || a[2] - b[2]).slice(0, n).map(([e]) => e);
}

/** A search state, (trie node, missed letter used, extra letter used, the extra letter was the
 * position just before): one object per state (kept on its node), so it can key a Map as the
 * Python dict's tuple does. */
function state(node, missed, extra, replaced) {
  return (node.states[(missed ? 4 : 0) + (extra ? 2 : 0) + (replaced ? 1 : 0)] ??= { node, missed, extra, replaced });
}

/** This signer's swaps (confusion_channel.py's SignerSubstitutions): evidence from each
 * finished word; a swap with enough of it is adopted.  Keys are `signed,read` letter indices. */
export class SignerSubstitutions {
  constructor(settings) {
    this.s = settings;
    this.reset();
  }

  /** Forget this signer. */
  reset() {
    this.evidence = new Map();
    this.adopted = new Set();
  }

  /** Take a finished word's evidence; true when it adopts a new swap. */
  observe(letters, shown, logProb) {
    if (logProb.has(letters)) return false;
    let swaps = [], weight = 1;
    if (shown !== letters) {
      const swap = shown.length === letters.length ? oneSwap(letters, shown) : null;
      if (swap) swaps = [swap];
    } else {
      for (let i = 0; i < letters.length; i++) {
        for (const s of ALPHABET) {
          if (s === letters[i]) continue;
          const word = letters.slice(0, i) + s + letters.slice(i + 1);
          if ((logProb.get(word) ?? -Infinity) >= this.s.evidence_min_log_prob) {
            swaps.push([s.charCodeAt(0) - 65, letters.charCodeAt(i) - 65]);
          }
        }
      }
      weight = swaps.length ? 1 / swaps.length : 0;
    }
    let adopted = false;
    for (const [signed, read] of swaps) {
      const key = `${signed},${read}`;
      this.evidence.set(key, (this.evidence.get(key) ?? 0) + weight);
      if (!this.adopted.has(key) && this.evidence.get(key) >= this.s.evidence_needed - 1e-9) {
        this.adopted.add(key);
        adopted = true;
      }
    }
    return adopted;
  }

  /** Per position read as letter `read[i]`, the least likelihood of each signed letter:
   * adopted_p for a swap adopted for this signer, else 0. */
  floors(read) {
    const out = read.map(() => new Array(26).fill(0));
    for (const key of this.adopted) {
      const [signed, letter] = key.split(",").map(Number);
      read.forEach((r, i) => { if (r === letter) out[i][signed] = this.s.adopted_p; });
    }
    return out;
  }
}

/** [signed, read] when `word` differs from `letters` in exactly one position, else null. */
function oneSwap(letters, word) {
  const diff = [];
  for (let i = 0; i < word.length; i++) if (word[i] !== letters[i]) diff.push([word.charCodeAt(i) - 65, letters.charCodeAt(i) - 65]);
  return diff.length === 1 ? diff[0] : null;
}

/** A signer's usual time from one committed letter to the next (word_decoder.py's LetterPace):
 * the pace_quantile quantile of their last pace_window intervals within finished words (and the
 * word decoded), linear between the two nearest as numpy's. */
export class LetterPace {
  constructor(settings) {
    this.s = settings;
    this.reset();
  }

  /** Someone else signs now. */
  reset() { this.intervals = []; }

  /** The usual interval (ms) given this word's `word` intervals too; null with fewer than pace_min. */
  usual(word) {
    const known = [...this.intervals, ...word].sort((a, b) => a - b);
    if (known.length < this.s.pace_min) return null;
    const at = (known.length - 1) * this.s.pace_quantile, lo = Math.floor(at), hi = Math.min(lo + 1, known.length - 1);
    return known[lo] + (known[hi] - known[lo]) * (at - lo);
  }

  /** Remember a finished word's intervals. */
  observe(word) {
    this.intervals.push(...word);
    this.intervals.splice(0, Math.max(0, this.intervals.length - this.s.pace_window));
  }
}

/** The time (ms) from each committed letter to the next (null where either time is unknown or the
 * order is not forward). */
function intervals(times) {
  return times.slice(1).map((b, i) => (times[i] !== null && b !== null && b > times[i] ? b - times[i] : null));
}

/** The cost of a missed letter before each of the `n` committed positions and after the last,
 * given the `intervals` `between` them (null: no times): tight_missed_penalty between two letters
 * when neither their interval nor the ones next to it is room_ratio x `usual` or longer, else
 * missed_penalty. */
function missedCosts(s, between, n, usual) {
  const costs = new Array(n + 1).fill(s.missed_penalty);
  if (!between || usual === null) return costs;
  const tight = between.map((gap) => gap !== null && gap < s.room_ratio * usual);
  for (let i = 1; i < n; i++) if (tight.slice(Math.max(0, i - 2), i + 1).every(Boolean)) costs[i] = s.tight_missed_penalty;
  return costs;
}

export class WordDecoder {
  /** `words`: [word, logProb] pairs (null: the raw letters are always kept); with a channel in
   * `settings.channel`, `signer` (a SignerSubstitutions) learns this signer's swaps; `pace` (a
   * LetterPace; a new one when null) learns their pace from each word. */
  constructor(words, classes, settings, signer = null, pace = null) {
    this.s = settings;
    this.words = words ? new Set(words.map(([w]) => w)) : null;
    this.logProb = words ? new Map(words) : null;
    this.columns = ALPHABET.map((c) => classes.indexOf(c));
    this.root = words ? buildTrie(words) : null;
    this.channel = settings.channel ?? null;
    this.signer = signer;
    this.pace = pace ?? new LetterPace(settings);
  }

  /** {text, suggestions: [{word, score}], corrected} for the committed `letters`, each letter's
   * smoothed class probabilities and when each committed (ms; null: unknown). */
  decode(letters, probs, times = null) {
    if (letters.length !== probs.length || (times && times.length !== letters.length)) {
      throw new Error(`${letters.length} letters but ${probs.length} vectors${times ? ` and ${times.length} times` : ""}`);
    }
    if (!/^[A-Z]*$/.test(letters)) throw new Error(`${letters} is not upper-case letters A-Z`);
    if (!this.root || !letters) return { text: letters, suggestions: [], corrected: false };
    const between = times ? intervals(times) : null;
    const known = (between ?? []).filter((g) => g !== null);
    const missed = missedCosts(this.s, between, letters.length, this.pace.usual(known));
    this.pace.observe(known);
    let decoded = this.decodeNow(letters, probs, missed);
    if (this.channel && this.signer && this.signer.observe(letters, decoded.text, this.logProb)) {
      decoded = this.decodeNow(letters, probs, missed);  // the swap this word completed applies to it too
    }
    return decoded;
  }

  /** Someone else signs now: forget this signer's swaps and pace. */
  newSigner() {
    this.signer?.reset();
    this.pace.reset();
  }

  /** `decode` with the channel and the signer's swaps as they are now (`missed`: missedCosts). */
  decodeNow(letters, probs, missed) {
    const read = [...letters].map((c) => c.charCodeAt(0) - 65);
    const floors = this.channel && this.signer ? this.signer.floors(read) : null;
    const logP = probs.map((p, i) => this.logProbs(p, this.channel ? this.channel.map((row) => row[read[i]]) : null,
      floors ? floors[i] : null));
    let raw = 0;
    for (let i = 0; i < letters.length; i++) raw += logP[i][letters.charCodeAt(i) - 65];
    raw += this.s.prior_weight * (this.s.oov_log_prior + this.s.oov_log_per_letter * (letters.length - this.s.oov_length));
    const suggestions = this.search(logP, this.extraCosts(letters, logP), missed);
    if (!this.words.has(letters) && suggestions.length && suggestions[0].score > raw + this.s.margin) {
      return { text: suggestions[0].word, suggestions, corrected: true };
    }
    return { text: letters, suggestions, corrected: false };
  }

  /** log-likelihoods of A-Z at one position: renormalised over the letters, plus channel_weight x
   * the channel's P(read this letter | signed each) (`readAs`, null without a channel), at least
   * `floor` (the signer's adopted swaps), floored. */
  logProbs(full, readAs, floor = null) {
    const p = this.columns.map((c) => {
      const v = c >= 0 ? full[c] : 0;
      return Number.isFinite(v) ? Math.max(v, 0) : 0;
    });
    const total = p.reduce((a, b) => a + b, 0);
    const w = this.s.channel_weight;
    return p.map((v, k) => {
      const own = total > 0 ? v / total : 1 / 26;
      const p = readAs ? own + w * readAs[k] : own;
      return Math.log(Math.max(floor ? Math.max(p, floor[k]) : p, this.s.prob_floor));
    });
  }

  /** The cost of each committed letter being one the word does not have: extra_penalty for a
   * repeat of the letter before it, else extra_penalty + log(1 - p), 1 - p floored at prob_floor. */
  extraCosts(letters, logP) {
    return [...letters].map((c, i) => {
      const p = Math.exp(logP[i][c.charCodeAt(0) - 65]);
      const repeat = i > 0 && c === letters[i - 1];
      return this.s.extra_penalty + (repeat ? 0 : Math.log(Math.max(this.s.prob_floor, 1 - p)));
    });
  }

  /** The best lexicon words by beam search over the trie (`extraCosts`: the cost of dropping
   * each committed position; `missedAt`: of a letter missed before each, and after the last). */
  search(logP, extraCosts, missedAt) {
    const { top_k: topK, beam } = this.s;
    const tops = logP.map((row) => row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, topK).map(([, i]) => i));
    // A letter missed right after the extra one takes its place: it costs missed_penalty whatever the pace.
    let layer = new Map([[state(this.root, false, false, false), 0]]);
    for (let i = 0; i <= logP.length; i++) {
      if (layer.size > beam) layer = new Map(largest(layer, beam, (st, score) => score + this.s.prior_weight * st.node.best));
      for (const [{ node, missed, extra, replaced }, score] of [...layer]) {  // a missed letter before position i
        if (missed) continue;
        const cost = replaced ? this.s.missed_penalty : missedAt[i];
        for (const child of node.children.values()) keep(layer, state(child, true, extra, false), score + cost);
      }
      if (i === logP.length) break;
      const previous = layer;
      layer = new Map();
      const row = logP[i];
      for (const [{ node, missed, extra }, score] of previous) {
        for (const letter of tops[i]) {
          const child = node.children.get(letter);
          if (child) keep(layer, state(child, missed, extra, false), score + row[letter]);
        }
        if (!extra) keep(layer, state(node, missed, true, true), score + extraCosts[i]);
      }
    }
    const words = new Map();
    for (const [{ node }, score] of layer) {
      if (node.word !== null) keep(words, node.word, score + this.s.prior_weight * node.logProb);
    }
    return largest(words, this.s.n_suggestions, (_, score) => score).map(([word, score]) => ({ word, score }));
  }
}
