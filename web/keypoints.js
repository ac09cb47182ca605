// The page's copy of keypoints.py's feature side: landmark units, right-hand probability,
// `features` (the 1D CNN's input) and `embedderInput` (the gesture embedder's `hand` input).
// Each function mirrors the Python function of the same name; tests/test_web_page.py checks
// they agree with Python to 1e-5 on real landmarks.  Landmarks are Float32Array(63): 21 points
// of x, y, z in units of the image's longer side (`toProjectUnits`).

export const FEATURE_VERSION = 1;
export const NUM_LANDMARKS = 21;
// Parent of each landmark in MediaPipe's hand skeleton (the wrist, 0, has none).
export const PARENTS = [0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19];
export const INPUT_NAMES = ["features", "hand", "right"];

/** MediaPipe's normalised landmarks of a width x height image -> units of its longer side. */
export function toProjectUnits(marks, width, height) {
  const side = Math.max(width, height);
  const unit = [width / side, height / side, width / side];
  const out = new Float32Array(NUM_LANDMARKS * 3);
  marks.forEach((m, i) => {
    out[3 * i] = m.x * unit[0];
    out[3 * i + 1] = m.y * unit[1];
    out[3 * i + 2] = m.z * unit[2];
  });
  return out;
}

/** The probability that a hand is a right hand, from MediaPipe's label and its score. */
export function rightProbability(label, score) {
  return String(label).toLowerCase() === "left" ? 1 - score : score;
}

/** The handedness label of the mirror image. */
export function otherHand(label) {
  return { left: "Right", right: "Left" }[String(label).toLowerCase()] ?? label;
}

/** Finite and not collapsed to a point: a usable input for `features`. */
export function validLandmarks(lm) {
  if (!lm.every(Number.isFinite)) return false;
  let spread = 0;
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    spread = Math.max(spread, Math.abs(lm[3 * i] - lm[0]), Math.abs(lm[3 * i + 1] - lm[1]));
  }
  return spread > 1e-6;
}

/** The CNN's input for one hand: Float32Array(6 * 21), channels x, y, z (wrist-centred,
 * divided by the mean wrist-to-point distance in the image plane, a left hand mirrored) then the
 * unit direction of the bone from each point's parent.  `right`: right-hand probability. */
export function features(lm, right) {
  const sign = right < 0.5 ? -1 : 1;
  const p = new Float64Array(NUM_LANDMARKS * 3);
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    p[3 * i] = (lm[3 * i] * sign) - (lm[0] * sign);
    p[3 * i + 1] = lm[3 * i + 1] - lm[1];
    p[3 * i + 2] = lm[3 * i + 2] - lm[2];
  }
  let scale = 0;
  for (let i = 1; i < NUM_LANDMARKS; i++) scale += Math.hypot(p[3 * i], p[3 * i + 1]);
  scale /= NUM_LANDMARKS - 1;
  for (let k = 0; k < p.length; k++) p[k] /= scale;
  const out = new Float32Array(6 * NUM_LANDMARKS);
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    const j = PARENTS[i];
    const bone = [0, 1, 2].map((c) => p[3 * i + c] - p[3 * j + c]);
    const length = Math.hypot(...bone);
    for (let c = 0; c < 3; c++) {
      out[c * NUM_LANDMARKS + i] = p[3 * i + c];
      out[(3 + c) * NUM_LANDMARKS + i] = length > 1e-9 ? bone[c] / length : 0;
    }
  }
  return out;
}

/** The gesture embedder's `hand` input: Float32Array(21 * 3), the wrist at the origin, then x, y
 * and z divided by the larger of the x and y ranges (+1e-5), as MediaPipe's graph prepares it. */
export function embedderInput(lm) {
  const out = new Float32Array(NUM_LANDMARKS * 3);
  for (let k = 0; k < out.length; k++) out[k] = lm[k] - lm[k % 3];
  const range = (c) => {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < NUM_LANDMARKS; i++) {
      lo = Math.min(lo, out[3 * i + c]);
      hi = Math.max(hi, out[3 * i + c]);
    }
    return Math.fround(hi - lo);
  };
  const spread = Math.fround(Math.max(range(0), range(1)) + Math.fround(1e-5));
  for (let k = 0; k < out.length; k++) out[k] /= spread;
  return out;
}

/** The model inputs of a batch of hands ({landmarks, right}), flat Float32Arrays with their
 * shapes: what keypoints.model_inputs makes. */
export function modelInputs(hands) {
  const n = hands.length;
  const inputs = {
    features: { data: new Float32Array(n * 6 * NUM_LANDMARKS), dims: [n, 6, NUM_LANDMARKS] },
    hand: { data: new Float32Array(n * NUM_LANDMARKS * 3), dims: [n, NUM_LANDMARKS, 3] },
    right: { data: new Float32Array(n), dims: [n, 1] },
  };
  hands.forEach(({ landmarks, right }, i) => {
    inputs.features.data.set(features(landmarks, right), i * 6 * NUM_LANDMARKS);
    inputs.hand.data.set(embedderInput(landmarks), i * NUM_LANDMARKS * 3);
    inputs.right.data[i] = right;
  });
  return inputs;
}
