// The page: loads the configuration web.py serves (model metadata, speller settings, decoder
// settings), the hand landmarker, the letter model and the lexicon, then spells from the
// camera, or runs practice mode (practice_view.js) on the letters it commits.  The contract for
// tests and users' scripts is `window.asl`:
//   ready  true once the models (and the lexicon) are loaded
//   last   the latest frame's result, the object main.py writes per JSONL line
//   error  what failed (no camera, permission denied, a model that did not load), also shown
//   timings  the last frames' milliseconds per stage; readyMs  when `ready` became true
//   delegate  {name: "GPU" | "CPU", reason}: what the hand landmarker runs on, and why not the GPU
//   practice  null, or the practice session: {word, letters: [{target, reads, done}], finished, ...}
// The URL's query: ?practice=WORD1,WORD2 starts practice on those words at once; ?delegate=cpu
// keeps the landmarker on the CPU (?delegate=gpu tries the GPU even where WebGL runs in software).

import { loadClassifier } from "./classifier.js";
import { loadMotionModel } from "./motion_letters.js";
import { Overlay } from "./overlay.js";
import { parseWords } from "./practice.js";
import { PracticeView } from "./practice_view.js";
import { Recogniser, frameRecord } from "./recogniser.js";
import { TextEntry } from "./text_entry.js";
import { SignerSubstitutions, WordDecoder } from "./word_decoder.js";

const TASKS_VISION = "/npm/tasks-vision/vision_bundle.mjs";
const ORT = "/npm/onnxruntime-web/ort.wasm.min.mjs";
const KEPT_TIMINGS = 300;  // frames whose stage timings are kept (the medians shown)
const CAMERA_SIZE = { width: { ideal: 1280 }, height: { ideal: 720 } };  // main.py's WIDTH, HEIGHT
// WebGL renderers that draw in software (no GPU): there MediaPipe's GPU delegate took 1.2 s a frame
// in headless Chromium (SwiftShader), where its CPU delegate took 0.23 s on the same busy machine.
const SOFTWARE_GL = /swiftshader|llvmpipe|softpipe|software|basic render/i;

const asl = window.asl = { ready: false, last: null, error: null, readyMs: null, delegate: null, practice: null,
  timings: { landmarker: [], model: [], draw: [], practice: [] } };
const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
let recogniser = null, overlay = null, stream = null, paused = false, frame = 0, fps = 0, lastFrame = 0;
// Practice mode: its view (null when its files did not load), and the text each mode writes to
// (practice's has no lexicon: the learner's raw letters are what is scored).
let practice = null, mode = "spell", texts = null, running = false;
// Frame times: the camera's clock since its first frame, continued across a change of camera.
let clockStart = null, clockBase = 0, lastT = 0;

/** Show and record what failed. */
function fail(message) {
  asl.error = message;
  $("error").textContent = message;
  $("error").hidden = false;
  $("status").textContent = "stopped";
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** Hex sha256 of bytes (null where the browser offers no digest: an insecure context). */
async function sha256(bytes) {
  if (!crypto.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Why the landmarker should not run on the GPU (null: it should), from ?delegate= (`asked`) and
 * what WebGL the browser offers. */
function gpuUnwanted(asked) {
  if (asked === "cpu") return "?delegate=cpu";
  if (asked === "gpu") return null;
  if (asked !== null) return `?delegate=${asked} is neither cpu nor gpu`;
  const gl = typeof OffscreenCanvas === "undefined" ? null : new OffscreenCanvas(1, 1).getContext("webgl2");
  if (!gl) return "this browser offers no WebGL2";
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const renderer = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
  gl.getExtension("WEBGL_lose_context")?.loseContext();
  return SOFTWARE_GL.test(renderer) ? `WebGL runs in software here (${renderer}), slower than the CPU` : null;
}

async function loadLandmarker(config) {
  const vision = await import(TASKS_VISION);
  const response = await fetch(config.hand_model.url);
  if (!response.ok) throw new Error(`${config.hand_model.url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const digest = await sha256(bytes);
  if (digest !== null && digest !== config.hand_model.sha256) throw new Error("the file fails its sha256 check");
  const fileset = await vision.FilesetResolver.forVisionTasks("/npm/tasks-vision/wasm");
  const make = (delegate, confidence) => vision.HandLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetBuffer: bytes, delegate }, runningMode: "VIDEO",
    numHands: config.settings.max_hands, minHandDetectionConfidence: confidence,
    minHandPresenceConfidence: confidence, minTrackingConfidence: confidence,
  });
  // The landmarker, and its last resort at a lower confidence (recogniser.js), on one delegate.
  const lastResort = config.settings.last_resort_confidence;
  const both = async (delegate) => {
    const landmarker = await make(delegate, 0.5);  // one at a time: the WASM loader keeps its factory in a global
    try {
      return [landmarker, lastResort === null ? null : await make(delegate, lastResort)];
    } catch (err) {
      landmarker.close();
      throw err;
    }
  };
  let reason = gpuUnwanted(query.get("delegate"));
  if (reason === null) {
    try {
      const landmarkers = await both("GPU");
      asl.delegate = { name: "GPU", reason: null };
      return landmarkers;
    } catch (err) {
      reason = `the GPU delegate failed: ${err.message ?? err}`;
    }
  }
  asl.delegate = { name: "CPU", reason };
  return both("CPU");
}

async function loadModel(config) {
  const ort = await import(ORT);
  ort.env.wasm.wasmPaths = "/npm/onnxruntime-web/";
  ort.env.wasm.numThreads = 1;  // faster than 2 here, and needs no cross-origin isolation
  return loadClassifier(ort, config.model);
}

async function loadDecoder(config) {
  if (!config.lexicon) return null;
  const { words } = await fetchJson(config.lexicon.url);
  const swaps = config.decoder.channel ? new SignerSubstitutions(config.decoder) : null;  // this signer's misreads
  return new WordDecoder(words, config.model.classes, config.decoder, swaps);
}

/** Practice mode's view, on its word lists and reference hands; null (and the reason shown in
 * its panel) when they did not load: spelling works without them. */
async function loadPractice() {
  try {
    const [{ lists }, { letters }] = await Promise.all([fetchJson("/practice.json"), fetchJson("/web/references.json")]);
    return new PracticeView(lists, letters, (state) => { asl.practice = state; });
  } catch (err) {
    $("practice-feedback").textContent = `practice is unavailable: ${err.message ?? err}`;
    return null;
  }
}

/** `promise`, its failure prefixed with what was loading. */
const labelled = (what, promise) => promise.catch((err) => { throw new Error(`${what} did not load: ${err.message ?? err}`); });

async function load() {
  const config = await labelled("the configuration", fetchJson("/config.json"));
  const [[landmarker, lastResort], classifier, decoder, motionModel, practiceView] = await Promise.all([
    labelled("the hand model", loadLandmarker(config)),
    labelled("the letter model", loadModel(config)),
    labelled("the lexicon", loadDecoder(config)),
    config.settings.motion_letters ? labelled("the J/Z motion model", loadMotionModel(config.motion)) : null,
    loadPractice(),
  ]);
  texts = { spell: new TextEntry(decoder), practice: new TextEntry(null) };
  recogniser = new Recogniser(landmarker, classifier, config.settings, texts.spell, lastResort, config.adaptation,
    motionModel);
  practice = practiceView;
  $("delegate").textContent = asl.delegate.name + (asl.delegate.reason ? ` (${asl.delegate.reason})` : "");
  overlay = new Overlay($("overlay"), config.hand_connections, (i) => recogniser.text.choose(i));
  asl.config = config;
  asl.ready = true;
  asl.readyMs = performance.now();
  $("status").textContent = "ready";
}

/** Why the camera could not start, in a user's words. */
function cameraProblem(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return "camera permission denied: allow the camera for this page and reload";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "no camera found: connect one and reload";
  if (name === "NotReadableError") return "the camera is in use by another program (or failed to start)";
  return `the camera did not start: ${err && err.message ? err.message : err}`;
}

async function startCamera(deviceId) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("no camera access: open the page at http://127.0.0.1 (or https), where browsers allow cameras");
  }
  if (stream) stream.getTracks().forEach((track) => track.stop());
  const video = deviceId ? { ...CAMERA_SIZE, deviceId: { exact: deviceId } } : CAMERA_SIZE;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
  } catch (err) {
    throw new Error(cameraProblem(err));
  }
  [clockStart, clockBase] = [null, lastT ? lastT + 100 : 0];
  $("video").srcObject = stream;
  await $("video").play();
  await listCameras(stream.getVideoTracks()[0].getSettings().deviceId);
}

async function listCameras(current) {
  const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
  $("camera").replaceChildren(...cameras.map((d, i) => {
    const option = new Option(d.label || `camera ${i + 1}`, d.deviceId);
    option.selected = d.deviceId === current;
    return option;
  }));
}

function keep(stage, ms) {
  const list = asl.timings[stage];
  list.push(ms);
  if (list.length > KEPT_TIMINGS) list.shift();
}

const median = (list) => {
  const s = [...list].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : 0;
};

/** Recognise and draw the frame captured at `mediaTime` (seconds, the camera's clock). */
async function processFrame(video, mediaTime) {
  const now = performance.now();
  if (clockStart === null) clockStart = mediaTime;
  const t = lastT = Math.max(clockBase + (mediaTime - clockStart) * 1000, lastT);
  const result = await recogniser.process(video, video.videoWidth, video.videoHeight, t);
  const d0 = performance.now();
  overlay.draw(result, [video.videoWidth, video.videoHeight]);
  const drawMs = performance.now() - d0;
  keep("landmarker", result.timings.landmarker);
  keep("model", result.timings.model);
  keep("draw", drawMs);
  if (mode === "practice" && practice) {
    const p0 = performance.now();
    practice.onFrame(result, t);
    keep("practice", performance.now() - p0);
  }
  fps = lastFrame ? 0.9 * fps + 0.1 * 1000 / Math.max(now - lastFrame, 1e-3) : 0;
  lastFrame = now;
  if (frame % 15 === 14) {  // every 15 frames, the first after the warm-up frames
    overlay.stats(fps, Object.fromEntries(Object.entries(asl.timings).map(([k, v]) => [k, median(v)])));
  }
  asl.last = frameRecord(frame++, t, result);
}

function runFrames() {
  const video = $("video");
  let busy = false;
  const onFrame = (_, metadata) => {
    if (!busy && !paused && video.videoWidth) {
      busy = true;
      processFrame(video, metadata.mediaTime).catch((err) => fail(`recognition failed: ${err.message ?? err}`))
        .finally(() => { busy = false; });
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

function setMirror(on) {
  $("mirror").checked = on;
  $("stage").classList.toggle("mirrored", on);
  if (overlay) overlay.mirrored = on;
  if (practice) practice.setMirrored(on);
}

/** Spell or practice: the panel shown, and the text the recogniser writes to (the camera, the
 * model and the speller stay the same). */
function setMode(next) {
  mode = next;
  for (const [name, tab, panel] of [["spell", "tab-spell", "spell-panel"], ["practice", "tab-practice", "practice-panel"]]) {
    $(tab).setAttribute("aria-selected", String(name === mode));
    $(panel).hidden = name !== mode;
  }
  document.body.classList.toggle("practising", mode === "practice");
  if (recogniser) recogniser.text = texts[mode];
  if (running) $("status").textContent = mode === "practice" ? "practising" : "spelling";
}

/** Keys of practice mode: start, skip, next level, reset; true when `key` was one. */
function practiceKey(key) {
  const action = { enter: () => practice.startChosen(), s: () => practice.skip(), l: () => practice.nextLevel(),
    r: () => practice.reset() }[key];
  if (!action || !practice) return false;
  action();
  return true;
}

function bindControls() {
  $("mirror").addEventListener("change", () => setMirror($("mirror").checked));
  $("camera").addEventListener("change", () => startCamera($("camera").value).catch((err) => fail(err.message)));
  $("undo").addEventListener("click", () => recogniser && recogniser.text.undo());
  $("clear").addEventListener("click", () => recogniser && recogniser.clear());
  $("new-signer").addEventListener("click", () => recogniser && recogniser.newSigner());
  $("pause").addEventListener("click", () => { paused = !paused; });
  $("tab-spell").addEventListener("click", () => setMode("spell"));
  $("tab-practice").addEventListener("click", () => setMode("practice"));
  const inPractice = (action) => () => practice && action();
  $("practice-start").addEventListener("click", inPractice(() => practice.startChosen()));
  $("practice-skip").addEventListener("click", inPractice(() => practice.skip()));
  $("practice-next").addEventListener("click", inPractice(() => practice.nextLevel()));
  $("practice-reset").addEventListener("click", inPractice(() => practice.reset()));
  $("practice-forget").addEventListener("click", inPractice(() => practice.forget()));
  document.addEventListener("keydown", (event) => {
    const key = event.key.toLowerCase(), where = event.target;
    if (!recogniser || (where.tagName === "SELECT" && !(where.id === "practice-level" && key === "enter"))) return;
    if (where.tagName === "BUTTON" && (key === "enter" || key === " ")) return;  // the button's own click
    if (key === "p") setMode(mode === "spell" ? "practice" : "spell");
    else if (mode === "practice" && practiceKey(key)) event.preventDefault();
    else if (mode === "practice" && ["1", "2", "3", "u", "c"].includes(key)) return;  // the spelled text's keys
    else if (["1", "2", "3"].includes(key)) recogniser.text.choose(Number(key) - 1);
    else if (key === "u") recogniser.text.undo();
    else if (key === "c") recogniser.clear();
    else if (key === "n") recogniser.newSigner();
    else if (key === "m") setMirror(!$("mirror").checked);
    else if (key === " ") { paused = !paused; event.preventDefault(); }
  });
}

/** ?practice=WORD1,WORD2: practice on those words at once (the reason shown when they are not words). */
function practiseFromQuery() {
  if (!query.has("practice")) return;
  setMode("practice");
  if (!practice) return;
  try {
    practice.start(parseWords(query.get("practice")), "custom");
  } catch (err) {
    $("practice-feedback").textContent = err.message;
  }
}

async function main() {
  bindControls();
  try {
    await load();
  } catch (err) {
    fail(err.message ?? String(err));
    return;
  }
  practiseFromQuery();
  try {
    await startCamera(null);
  } catch (err) {
    fail(err.message);
    return;
  }
  running = true;
  setMode(mode);
  runFrames();
}

main();
