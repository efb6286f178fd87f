// The mask painter's canvas model (maskpaint.js is its panel): strokes of the brush and
// the eraser, invert and clear on a canvas the size of Picture 1; the export of what is
// painted as a black-and-white PNG of exactly that size (white = edit); a mask image
// read back into the canvas; and the small helpers that load Picture 1 and the mask.

export const PAINT = "rgb(255, 54, 120)"; // shown at half opacity over the picture
const EDGE = 128; // alpha at least this: painted (the exported mask is binary)

/** A pointer event's position in the canvas's own pixels (Picture 1's). */
export function canvasPoint(canvas, e) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: ((e.clientX - rect.left) * canvas.width) / rect.width,
    y: ((e.clientY - rect.top) * canvas.height) / rect.height,
  };
}

/** One segment of a stroke (a dot when it has no length), painted or erased. */
export function paintStroke(ctx, from, to, size, erasing) {
  ctx.save();
  ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
  ctx.strokeStyle = PAINT;
  ctx.fillStyle = PAINT;
  ctx.lineWidth = size;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  if (from.x === to.x && from.y === to.y) {
    ctx.arc(to.x, to.y, size / 2, 0, Math.PI * 2);
    ctx.fill();
  } else {
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }
  ctx.restore();
}

/** Swap painted and unpainted. */
export function invertPaint(canvas, ctx) {
  const { width, height } = canvas;
  const tmp = document.createElement("canvas");
  tmp.width = width;
  tmp.height = height;
  const t = tmp.getContext("2d");
  t.fillStyle = PAINT;
  t.fillRect(0, 0, width, height);
  t.globalCompositeOperation = "destination-out";
  t.drawImage(canvas, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.drawImage(tmp, 0, 0);
}

/** Erase everything. */
export function clearPaint(canvas, ctx) {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
}

/** The mask as sent: a PNG of Picture 1's size, white (255) = edit on black (0), with
 * the painted pixels' count and the total; no PNG when none or all are painted. */
export async function exportMask(canvas, ctx) {
  const { width, height } = canvas;
  const painted = ctx.getImageData(0, 0, width, height).data;
  const out = new ImageData(width, height);
  let count = 0;
  for (let i = 0; i < painted.length; i += 4) {
    const on = painted[i + 3] >= EDGE;
    const v = on ? 255 : 0;
    out.data[i] = v;
    out.data[i + 1] = v;
    out.data[i + 2] = v;
    out.data[i + 3] = 255;
    count += on;
  }
  const total = width * height;
  if (!count || count === total) return { blob: null, count, total };
  const tmp = document.createElement("canvas");
  tmp.width = width;
  tmp.height = height;
  tmp.getContext("2d").putImageData(out, 0, 0);
  const blob = await new Promise((resolve) => tmp.toBlob(resolve, "image/png"));
  return { blob, count, total };
}

/** A mask image (a bitmap, scaled to the canvas) into the canvas: transparent = edit if it
 * has transparency (OpenAI's rule), else white = edit, as the server reads it. Returns the
 * painted share of the canvas. */
export function drawMask(canvas, ctx, bitmap) {
  const { width, height } = canvas;
  const tmp = document.createElement("canvas");
  tmp.width = width;
  tmp.height = height;
  const t = tmp.getContext("2d", { willReadFrequently: true });
  t.drawImage(bitmap, 0, 0, width, height);
  const px = t.getImageData(0, 0, width, height).data;
  const out = new ImageData(width, height);
  const count = maskToPaint(px, out.data, hasTransparency(px));
  ctx.putImageData(out, 0, 0);
  return count / (width * height);
}

function hasTransparency(px) {
  for (let i = 3; i < px.length; i += 4) {
    if (px[i] < 255) return true;
  }
  return false;
}

/** The mask's pixels `px` as paint into `out`; the count of painted pixels. */
function maskToPaint(px, out, transparent) {
  let count = 0;
  const [r, g, b] = PAINT.match(/\d+/g).map(Number);
  for (let i = 0; i < px.length; i += 4) {
    const on = transparent ? px[i + 3] < EDGE : 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2] >= EDGE;
    if (!on) continue;
    out[i] = r;
    out[i + 1] = g;
    out[i + 2] = b;
    out[i + 3] = 255;
    count++;
  }
  return count;
}

// Which picture a mask was painted on: the same item stays the same picture through its
// upload (its local preview first, its upload URL then); the same URL set again (a draft,
// a restore) is the same picture.
const KEYS = new WeakMap();
export function pictureKey(item) {
  if (!KEYS.has(item)) KEYS.set(item, item.url || item.thumb);
  return KEYS.get(item);
}

function decodeImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("image"));
    img.src = src;
  });
}

export function dataUri(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** Picture 1's image, decoded ({img: null} when it cannot be): its preview (or URL), else
 * its upload fetched through the API. */
export async function fetchPicture(api, item) {
  let src = item.thumb || item.url;
  let img;
  try {
    img = await decodeImage(src);
  } catch {
    try {
      src = URL.createObjectURL(await api.fetchBlob(item.url));
      img = await decodeImage(src);
    } catch {
      img = null;
    }
  }
  return { img, src };
}

/** A mask image (a data URI, or a link fetched through the API) as a bitmap. */
export async function readMask(api, url) {
  const blob = url.startsWith("data:") ? await (await fetch(url)).blob() : await api.fetchBlob(url);
  return createImageBitmap(blob);
}
