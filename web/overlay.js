// Drawing a frame's result: the hand skeletons and their letters on the canvas over the video,
// and the reading, text, hold progress, suggestions and speed figures beside it (overlay.py's
// job in the Python app).

const $ = (id) => document.getElementById(id);

/** Set an element's text only when it changed (layout is the costly part of drawing). */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export class Overlay {
  /** `connections`: the skeleton's [a, b] landmark pairs; `onChoose(i)` takes suggestion i. */
  constructor(canvas, connections, onChoose) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.connections = connections;
    this.onChoose = onChoose;
    this.mirrored = true;
    this.shownSuggestions = "";
  }

  /** Draw one frame's result; `size` is the frame's [width, height]. */
  draw(result, [width, height]) {
    if (this.canvas.width !== width || this.canvas.height !== height) [this.canvas.width, this.canvas.height] = [width, height];
    const { ctx } = this;
    ctx.clearRect(0, 0, width, height);
    const side = Math.max(width, height);
    result.hands.forEach(({ hand, prediction }, i) => {
      const lm = hand.landmarks;
      const point = (k) => [lm[3 * k] * side, lm[3 * k + 1] * side];
      ctx.strokeStyle = i === result.spelling ? "#3f3" : "#ccc";
      ctx.lineWidth = Math.max(2, side / 320);
      ctx.beginPath();
      for (const [a, b] of this.connections) {
        ctx.moveTo(...point(a));
        ctx.lineTo(...point(b));
      }
      ctx.stroke();
      ctx.fillStyle = "#f33";
      for (let k = 0; k < 21; k++) ctx.fillRect(point(k)[0] - 2, point(k)[1] - 2, 4, 4);
      const [x, y] = point(0);
      const label = `${prediction.letter ?? "?"} ${prediction.confidence === null ? "" : prediction.confidence.toFixed(2)}` +
        ` ${hand.handedness}`;
      ctx.save();
      ctx.translate(x, y + side / 25);
      if (this.mirrored) ctx.scale(-1, 1);  // the canvas is mirrored by CSS: keep the text readable
      ctx.font = `bold ${Math.round(side / 30)}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillText(label, 0, 0);
      ctx.restore();
    });
    this.panel(result);
  }

  /** The reading, text, hold progress, suggestions and adaptation beside the video. */
  panel(result) {
    const chosen = result.spelling === null ? null : result.hands[result.spelling];
    const any = chosen ?? result.hands[0];
    setText($("letter"), chosen ? chosen.prediction.letter : "–");
    setText($("detail"), any ? `${any.prediction.confidence === null ? "unusable hand" :
      `confidence ${any.prediction.confidence.toFixed(2)}`} · ${any.hand.handedness} hand` : "no hand");
    setText($("text"), result.text);
    setText($("adapted"), result.adapted === null ? "off" : `learnt from ${result.adapted} letters`);
    $("hold").value = result.progress;
    const key = result.suggestions.join(" ");
    if (key !== this.shownSuggestions) {
      this.shownSuggestions = key;
      $("suggestions").replaceChildren(...result.suggestions.map((word, i) => {
        const button = document.createElement("button");
        button.textContent = `${i + 1}: ${word}`;
        button.addEventListener("click", () => this.onChoose(i));
        return button;
      }));
    }
  }

  /** The speed figures: frames per second and the median milliseconds of each stage. */
  stats(fps, medians) {
    setText($("fps"), fps.toFixed(1));
    for (const [stage, ms] of Object.entries(medians)) setText($(`ms-${stage}`), ms.toFixed(1));
  }
}
