// Practice mode on the page: runs a PracticeSession (practice.js) on the letters the speller
// commits and shows it: the target word with each letter's state, the hold progress, the reference
// hand of the current letter (and, after a miss, of the letter it was read as), a one-line
// description, feedback in an ARIA live region, the session's summary and the stored history.
// `onState(state)` gets `window.asl.practice` after every change.

import { LEVELS, PracticeSession, levelWords } from "./practice.js";
import { DESCRIPTIONS, drawHand } from "./practice_hands.js";
import { forgetHistory, loadHistory, saveSession } from "./practice_history.js";

const $ = (id) => document.getElementById(id);
const SHOWN_HISTORY = 5;  // sessions listed, newest first
const levelName = (id) => LEVELS.find((l) => l.id === id)?.name ?? "Your words";

/** Set an element's text only when it changed. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export class PracticeView {
  /** `lists`: /practice.json's word lists; `references`: references.json's letters. */
  constructor(lists, references, onState) {
    this.lists = lists;
    this.references = references;
    this.onState = onState;
    this.session = null;
    this.words = [];  // the session's words, for a reset
    this.lastT = 0;  // the last frame's time (ms): when a key skips or ends a session
    this.mirrored = true;
    this.missRead = null;  // what the current letter was last read as
    const custom = new Option(levelName("custom"), "custom");  // shown only while ?practice= words are practised
    custom.hidden = true;
    $("practice-level").replaceChildren(...LEVELS.map((l) => new Option(l.name, l.id)), custom);
    this.showHistory(loadHistory());
  }

  /** A new session on `words` (level `level`: a LEVELS id, or "custom"). */
  start(words, level) {
    this.session = new PracticeSession(words, level);
    this.words = words;
    this.missRead = null;
    $("practice-level").value = level;
    $("practice-summary").hidden = true;
    this.changed(`${levelName(level)}. ${this.prompt()}`);
  }

  /** A new session of the level chosen in the level picker (your words: the same words again). */
  startChosen() {
    const level = $("practice-level").value;
    this.start(level === "custom" ? this.words : levelWords(level, this.lists), level);
  }

  /** Skip the current word. */
  skip() {
    if (!this.session || this.session.finished) return;
    const { word, finished } = this.session.skip(this.lastT);
    this.missRead = null;
    this.changed(finished ? this.finish(`Skipped ${word}.`) : `Skipped ${word}. ${this.prompt()}`);
  }

  /** The level after the current one (after the last, the first), started. */
  nextLevel() {
    const i = LEVELS.findIndex((l) => l.id === this.session?.level);
    $("practice-level").value = LEVELS[(i + 1) % LEVELS.length].id;
    this.startChosen();
  }

  /** The same words again from the start. */
  reset() {
    if (this.session) this.start(this.words, this.session.level);
  }

  /** One frame's result at `t` (ms): its committed letter is scored; the hold progress shown. */
  onFrame(result, t) {
    this.lastT = t;
    const session = this.session;
    if (!session || session.finished) return;
    if (session.startedMs === null) {  // the session's clock starts
      session.tick(t);
      this.onState(session.state());
    }
    const hold = $("practice-hold");
    if (hold.value !== result.progress) hold.value = result.progress;
    if (result.committed === null) return;
    const event = session.commit(result.committed, t);
    if (event.kind === "ignored") return;
    if (event.kind === "miss") {
      this.missRead = event.read;
      this.changed(`Read as ${event.read}. Sign ${event.target} again.`);
    } else {
      this.missRead = null;
      if (event.finished) this.changed(this.finish(`${event.word} done.`));
      else this.changed(event.word ? `${event.word} done. Next word: ${this.prompt()}` : `${event.target} right. ${this.prompt()}`);
    }
  }

  /** What to sign now. */
  prompt() {
    const { entry, current, double } = this.session;
    const sign = `sign ${current.target}${double ? " again (lower or relax your hand first)" : ""}.`;
    return entry.word.length > 1 ? `${entry.word}: ${sign}` : sign[0].toUpperCase() + sign.slice(1);
  }

  /** End the session: its summary shown and stored; the feedback to give. */
  finish(said) {
    const s = this.session.summary();
    const rate = s.rightPerMinute === null ? "–" : s.rightPerMinute.toFixed(1);
    setText($("summary-time"), `${s.seconds.toFixed(1)} s`);
    setText($("summary-rate"), rate);
    setText($("summary-first"), `${s.firstTry} of ${s.letters}`);
    setText($("summary-hardest"), s.hardest.map((h) => `${h.letter} (${h.misses} miss${h.misses > 1 ? "es" : ""}` +
      `${h.readAs.length ? `, read as ${h.readAs.join(" ")}` : ""})`).join(", ") || "none: every letter at the first try");
    $("practice-summary").hidden = false;
    const history = saveSession({ when: new Date().toISOString(), level: this.session.level,
      words: this.session.words.map((w) => w.word), seconds: s.seconds, letters: s.letters, right: s.right,
      rightPerMinute: s.rightPerMinute, firstTry: s.firstTry });
    this.showHistory(history ?? loadHistory());
    return `${said} Finished: ${s.right} of ${s.letters} letters right in ${s.seconds.toFixed(0)} s, ${rate} a minute; ` +
      `${s.firstTry} at the first try.${history ? "" : " (This browser keeps no history for this page.)"}`;
  }

  /** Show the session's state and `feedback` (in the live region), and report the state. */
  changed(feedback) {
    const session = this.session;
    const current = session.current;
    $("practice-word").replaceChildren(...session.entry.letters.map((letter) => {
      const span = document.createElement("span");
      span.textContent = letter.target;
      span.className = letter.done ? "done" : letter === current ? (this.missRead ? "current missed" : "current")
        : session.entry.skipped ? "skipped" : "pending";
      return span;
    }));
    setText($("practice-feedback"), feedback);
    this.drawReferences();
    this.onState(session.state());
  }

  /** The current letter's reference and description, and the letter it was read as. */
  drawReferences() {
    const target = this.session.current?.target ?? null;
    const reference = (letter) => this.references[letter]?.points ?? null;
    drawHand($("reference-target"), target && reference(target), this.mirrored);
    setText($("reference-target-caption"), target ? `${target}: how it is made` : "");
    setText($("practice-description"), target ? DESCRIPTIONS[target] : "");
    const read = this.missRead && this.references[this.missRead] ? this.missRead : null;
    $("reference-read-figure").hidden = read === null;
    drawHand($("reference-read"), read && reference(read), this.mirrored);
    setText($("reference-read-caption"), read ? `${read}: what the model read` : "");
  }

  /** The page's view is mirrored or not: the references are drawn the same way. */
  setMirrored(on) {
    this.mirrored = on;
    if (this.session) this.drawReferences();
  }

  /** List the newest stored sessions. */
  showHistory(history) {
    const rows = history.slice(-SHOWN_HISTORY).reverse().map((h) => {
      const row = document.createElement("tr");
      const rate = h.rightPerMinute === null ? "–" : h.rightPerMinute.toFixed(1);
      for (const text of [new Date(h.when).toLocaleString(), levelName(h.level), `${rate} a minute`,
        `${h.firstTry}/${h.letters} first try`]) {
        row.insertCell().textContent = text;
      }
      return row;
    });
    $("history-table").replaceChildren(...rows);
    setText($("history-empty"), rows.length ? "" : "No finished session yet.");
  }

  /** Forget the stored sessions. */
  forget() {
    forgetHistory();
    this.showHistory([]);
  }
}
