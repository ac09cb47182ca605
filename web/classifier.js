// The page's copy of onnx_classifier.py: the ONNX export run with onnxruntime-web (wasm, one
// thread), its metadata (served by web.py from the model's own metadata_props) checked as the
// Python side checks it, and landmarks -> calibrated class probabilities.

import { FEATURE_VERSION, INPUT_NAMES, modelInputs, validLandmarks } from "./keypoints.js";

/** The ONNX model at `meta.url` checked against `meta` (config.json's "model") and this code. */
export async function loadClassifier(ort, meta) {
  if (Number(meta.feature_version) !== FEATURE_VERSION) {
    throw new Error(`the letter model was trained on feature version ${meta.feature_version} but this page ` +
      `computes version ${FEATURE_VERSION}; re-train and export it again`);
  }
  const session = await ort.InferenceSession.create(meta.url, { executionProviders: ["wasm"] });
  const unknown = session.inputNames.filter((name) => !INPUT_NAMES.includes(name));
  if (unknown.length) throw new Error(`the letter model takes inputs this page does not make (${unknown.join(", ")})`);
  if (!session.outputNames.includes(meta.output)) throw new Error(`the letter model has no output ${meta.output}`);
  const classifier = new Classifier(ort, session, meta);
  const width = (await classifier.logits([{ landmarks: WARM_UP_HAND, right: 1 }])).length;
  if (width !== meta.classes.length) {
    throw new Error(`the letter model outputs ${width} scores but its metadata lists ${meta.classes.length} classes`);
  }
  return classifier;
}

// A plausible open hand: the first inference (which also checks the output's width) warms the runtime.
const WARM_UP_HAND = Float32Array.from({ length: 63 }, (_, k) => {
  const i = Math.floor(k / 3), finger = Math.floor((i - 1) / 4), joint = (i - 1) % 4;
  if (i === 0) return [0.5, 0.8, 0][k % 3];
  return [0.5 + (finger - 2) * 0.04 * (joint + 1), 0.7 - 0.05 * (joint + 1), -0.01 * joint][k % 3];
});

export class Classifier {
  constructor(ort, session, meta) {
    this.ort = ort;
    this.session = session;
    this.classes = meta.classes;
    this.temperature = meta.temperature;
    this.output = meta.output;
    this.hiddenOutput = meta.hidden_output;  // null: an export without the hidden layer
    this.adapter = null;  // a SignerAdapter (adaptation.js) whose correction is added to the logits
  }

  /** Raw scores, flat (hands x classes), for usable hands ({landmarks, right}). */
  async logits(hands) {
    return (await this.run(hands))[this.output].data;
  }

  async run(hands) {
    const inputs = modelInputs(hands);
    const feeds = {};
    for (const name of this.session.inputNames) {
      feeds[name] = new this.ort.Tensor("float32", inputs[name].data, inputs[name].dims);
    }
    return this.session.run(feeds);
  }

  /** Per hand, its class probabilities (Float32Array), or null for unusable landmarks. */
  async predictProba(hands) {
    return (await this.predict(hands)).proba;
  }

  /** predictProba's probabilities and, with an adapter, each hand's calibrated logits before it and
   * hidden layer (null rows for unusable landmarks), as classifier_base.Classifier.predict. */
  async predict(hands) {
    const usable = hands.map((h) => validLandmarks(h.landmarks));
    const ok = hands.filter((_, i) => usable[i]);
    const out = ok.length ? await this.run(ok) : null;
    const z = out ? out[this.output].data : [];
    const hidden = out && this.adapter ? out[this.hiddenOutput] : null;
    const n = this.classes.length;
    const result = { proba: [], calibrated: hidden ? [] : null, hidden: hidden ? [] : null };
    let row = 0;
    for (const isUsable of usable) {
      if (!isUsable) {
        result.proba.push(null);
        if (hidden) {
          result.calibrated.push(null);
          result.hidden.push(null);
        }
        continue;
      }
      const calibrated = Float32Array.from(z.subarray(row * n, (row + 1) * n), (v) => v / this.temperature);
      let scores = calibrated;
      if (hidden) {
        const width = hidden.dims[1];
        const h = hidden.data.subarray(row * width, (row + 1) * width);
        const correction = this.adapter.correction(h);
        scores = calibrated.map((v, c) => v + correction[c]);
        result.calibrated.push(calibrated);
        result.hidden.push(h);
      }
      row++;
      const top = Math.max(...scores);
      const e = Array.from(scores, (v) => Math.exp(v - top));
      const sum = e.reduce((a, b) => a + b, 0);
      result.proba.push(Float32Array.from(e, (v) => v / sum));
    }
    return result;
  }
}
