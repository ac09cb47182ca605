// Practice mode's reference hands: one line on how each letter is made (written for this project)
// and the skeleton of its reference hand (references.json, made by `python export.py --references`
// from the medoid hand of each letter in licensed photo collections) drawn on a canvas.

/** How each letter is made, one line each, for a right hand as the signer sees it. */
export const DESCRIPTIONS = {
  A: "A fist, the thumb pressed straight up against the side of the index finger.",
  B: "Four fingers straight up and together, the thumb folded across the palm.",
  C: "Fingers and thumb curved into a C, as if holding a cup.",
  D: "The index finger up; the other fingertips touch the thumb tip in a circle.",
  E: "The fingertips curled down to rest on the thumb, which lies across the palm.",
  F: "Thumb and index tips touch in a circle; the other three fingers up and spread.",
  G: "Index finger and thumb point sideways, parallel; the other fingers closed.",
  H: "Index and middle fingers together, pointing sideways; the thumb holds the others.",
  I: "The little finger up, the other fingers in a fist with the thumb across them.",
  J: "An I, then the little finger draws a J in the air: down and curving up toward you.",
  K: "Index and middle fingers up and apart, the thumb tip between them at the middle finger.",
  L: "Thumb and index finger make an L; the other fingers closed.",
  M: "The thumb tucked under the first three fingers, which fold down over it.",
  N: "The thumb tucked under the index and middle fingers, which fold down over it.",
  O: "All fingertips curve round to meet the thumb tip in an O.",
  P: "A K turned to point down: the index finger forward, the middle finger down.",
  Q: "A G turned to point down: thumb and index finger toward the floor.",
  R: "Index and middle fingers up, the middle crossed over the index.",
  S: "A fist, the thumb across the front of the fingers.",
  T: "A fist, the thumb tip pushed up between the index and middle fingers.",
  U: "Index and middle fingers straight up and together.",
  V: "Index and middle fingers straight up and spread into a V.",
  W: "Index, middle and ring fingers up and spread; the thumb holds the little finger.",
  X: "The index finger bent into a hook, the other fingers in a fist.",
  Y: "Thumb and little finger stretched out, the middle three fingers closed.",
  Z: "The index finger points out and draws a Z in the air.",
};

const FINGERS = [[0, 1, 2, 3, 4], [0, 5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [0, 17, 18, 19, 20]];
const PALM = [5, 9, 13, 17];
// Thumb to little finger: a colour each, light on the page's dark background.
const COLOURS = ["#ffb74d", "#4fc3f7", "#81c784", "#ba68c8", "#f06292"];

/** Draw reference `points` (21 [x, y] in the unit square, the signer's mirrored view) on `canvas`,
 * flipped when the page's view is not mirrored; nothing but a cleared canvas for null. */
export function drawHand(canvas, points, mirrored = true) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  if (!points) return;
  const side = Math.min(width, height) * 0.84;
  const [ox, oy] = [(width - side) / 2, (height - side) / 2];
  const at = (k) => [ox + (mirrored ? points[k][0] : 1 - points[k][0]) * side, oy + points[k][1] * side];
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.lineWidth = Math.max(3, side / 28);
  ctx.strokeStyle = "#9e9e9e";
  ctx.beginPath();
  PALM.forEach((k, i) => (i ? ctx.lineTo(...at(k)) : ctx.moveTo(...at(k))));
  ctx.stroke();
  FINGERS.forEach((chain, f) => {
    ctx.strokeStyle = COLOURS[f];
    ctx.beginPath();
    chain.forEach((k, i) => (i ? ctx.lineTo(...at(k)) : ctx.moveTo(...at(k))));
    ctx.stroke();
    const [x, y] = at(chain[chain.length - 1]);
    ctx.fillStyle = COLOURS[f];
    ctx.beginPath();
    ctx.arc(x, y, ctx.lineWidth * 0.9, 0, 2 * Math.PI);
    ctx.fill();
  });
}
