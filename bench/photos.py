"""Phone photos of printouts, and photos with no ECG in them: does the page step keep the
class of a printout and refuse what is not one?

Positives: ``--n-images`` (80) distinct Mendeley images drawn (seeded) from the grouped
cross-validation of ``ecglens-images-cnn``; each is scored by the fold member that did not
train on it, on the dataset's copy (the reference class) and on a phone photo of it
(``photo_transform`` of :mod:`ecglens.inputs.images` at strength 1: up to 3 degrees,
perspective, blur, light, JPEG; then ``photo_on_background``: laid on a coloured, textured
table, turned by up to 10 degrees, perspective, uneven light, blur, JPEG quality 40). A
photo counts as kept when its class equals the reference class (a refused photo is not
kept).

Negatives: ``--n-scenes`` (50) synthetic photos with no ECG (textures, gradients, shapes,
a table drawn on paper, a text document, a blank sheet, graph paper, blobs; each on a
table, seeded). Refused: ``find_page`` finds no ECG printout.

Baseline, same run: the same photos without the page step (the model reads the photo's
fixed crop, as before the page step); it refuses only uniform images.

    ECGLENS_DATA=... python bench/photos.py [--seed 0] [--n-images 80] [--n-scenes 50]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ecglens.errors import EcgLensError
from ecglens.evaluate.images import _members, cv_files
from ecglens.inputs.images import (
    background,
    image_input,
    model_pixels,
    normalise,
    photo_on_background,
    photo_transform,
    printout_input,
    trace_area,
)
from ecglens.io.images import decode_image
from ecglens.models.registry import load_model
from ecglens.predict.images import image_probabilities, input_config

SCENES = ("texture", "gradient", "shapes", "table", "document", "blank", "graph paper", "blobs")


def _sheet(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A white A4 landscape sheet (524 x 738 px) holding a table, a document, graph paper
    or nothing."""
    h, w = 524, 738
    image = Image.new("RGB", (w, h), (246, 245, 242))
    draw = ImageDraw.Draw(image)
    if kind == "table":
        rows, cols = int(rng.integers(8, 25)), int(rng.integers(3, 9))
        x0, y0, x1, y1 = 40, 60, w - 40, h - 40
        for r in range(rows + 1):
            y = y0 + r * (y1 - y0) / rows
            draw.line([(x0, y), (x1, y)], fill=(40, 40, 40), width=1)
        for c in range(cols + 1):
            x = x0 + c * (x1 - x0) / cols
            draw.line([(x, y0), (x, y1)], fill=(40, 40, 40), width=1)
        for r in range(rows):
            for c in range(cols):
                draw.text((x0 + c * (x1 - x0) / cols + 4, y0 + r * (y1 - y0) / rows + 2),
                          str(int(rng.integers(0, 10**4))), fill=(20, 20, 20))  # fmt: skip
    elif kind == "document":
        y = 40
        while y < h - 40:
            words = " ".join(
                "x" * int(rng.integers(2, 10)) for _ in range(int(rng.integers(5, 14)))
            )
            draw.text((40, y), words, fill=(20, 20, 20))
            y += int(rng.integers(14, 22))
    elif kind == "graph paper":
        step = rng.uniform(8, 30)
        for x in np.arange(0, w, step):
            draw.line([(x, 0), (x, h)], fill=(150, 190, 220), width=1)
        for y in np.arange(0, h, step):
            draw.line([(0, y), (w, y)], fill=(150, 190, 220), width=1)
    return np.asarray(image)


def non_ecg_scene(kind: str, rng: np.random.Generator, size=(900, 1200)) -> np.ndarray:
    """A photo with no ECG in it, uint8 (H, W, 3)."""
    h, w = size
    if kind == "texture":
        return background(("wood", "cloth", "tiles")[int(rng.integers(3))], size, rng)
    if kind == "gradient":
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = np.linspace(0, 1, w)[None, :, None]
        return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8).copy()
    if kind == "shapes":
        image = Image.fromarray(background("plain", size, rng))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 12))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            r = rng.uniform(30, 250)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            box = [x - r, y - r * rng.uniform(0.4, 1.0), x + r, y + r]
            (draw.ellipse if rng.uniform() < 0.5 else draw.rectangle)(box, fill=colour)
        return np.asarray(image)
    if kind == "blobs":
        noise = rng.normal(size=(h // 30, w // 30, 3)).astype(np.float32)
        field = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
        return (field * 255).astype(np.uint8)
    sheet = _sheet(rng, {"blank": "blank"}.get(kind, kind))
    return photo_on_background(sheet, rng, size)[0]


def _predict(member, x: np.ndarray) -> int:
    return int(image_probabilities(member, x[None])[0].argmax())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ecglens-images-cnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-images", type=int, default=80)
    parser.add_argument("--n-scenes", type=int, default=50)
    parser.add_argument("--save", type=Path, default=None, help="folder: write the photos here")
    args = parser.parse_args(argv)
    root = Path(os.environ.get("ECGLENS_DATA", "data")) / "ecg-images"
    loaded = load_model(args.model)
    config = input_config(loaded)
    members = _members(loaded, int(loaded.config.cross_validation["n_folds"]))
    first = {}
    for f in cv_files(loaded, root):
        first.setdefault(f["group"], f)
    rng = np.random.default_rng(args.seed)
    chosen = [list(first.values())[i] for i in rng.choice(len(first), args.n_images, replace=False)]
    start = time.perf_counter()
    kept_page = kept_base = refused_pos = 0
    corner_errors = []
    for k, f in enumerate(chosen):
        member = members[f["fold"]]
        reference = _predict(member, image_input(f["path"], config))
        page = decode_image(f["path"], grayscale=False)
        image_rng = np.random.default_rng([args.seed, k])
        paper = photo_transform(page.transpose(2, 0, 1), image_rng)
        paper = np.round(paper.transpose(1, 2, 0) * 255).astype(np.uint8)
        photo, corners = photo_on_background(paper, image_rng)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            Image.fromarray(photo).save(args.save / f"photo-{k:03d}.jpg", quality=95)
        base = normalise(trace_area(model_pixels(photo, config.grayscale), config))
        kept_base += _predict(member, base) == reference
        try:
            x, found = printout_input(photo, config)
        except EcgLensError:
            refused_pos += 1
            continue
        corner_errors.append(float(np.abs(found.corners - corners).max()))
        kept_page += _predict(member, x) == reference
    refused = refused_base = 0
    by_kind: dict[str, list[int]] = {}
    for k in range(args.n_scenes):
        scene_rng = np.random.default_rng([args.seed, 10_000 + k])
        kind = SCENES[k % len(SCENES)]
        scene = non_ecg_scene(kind, scene_rng)
        buffer = io.BytesIO()
        Image.fromarray(scene).save(buffer, "JPEG", quality=40)
        scene = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        try:
            printout_input(scene, config)
            ok = 0
        except EcgLensError:
            ok = 1
        refused += ok
        try:
            normalise(trace_area(model_pixels(scene, config.grayscale), config))
        except EcgLensError:
            refused_base += 1
        by_kind.setdefault(kind, []).append(ok)
    n, m = args.n_images, args.n_scenes
    print(f"model {args.model}, seed {args.seed}, {time.perf_counter() - start:.0f} s")
    print(f"phone photos of {n} held-out printouts: class of the original kept")
    print(
        f"  with the page step:    {kept_page}/{n} = {100 * kept_page / n:.1f} %"
        f"  (refused {refused_pos}; corner error median "
        f"{np.median(corner_errors) if corner_errors else float('nan'):.1f} px, max "
        f"{max(corner_errors) if corner_errors else float('nan'):.1f} px, photo 1200 x 900)"
    )
    print(
        f"  without (baseline):    {kept_base}/{n} = {100 * kept_base / n:.1f} %"
        f"  (ratio {kept_page / max(kept_base, 1):.2f})"
    )
    print(f"{m} photos with no ECG: refused")
    print(
        f"  with the page step:    {refused}/{m} = {100 * refused / m:.1f} %  by kind: "
        + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in by_kind.items())
    )
    print(f"  without (baseline):    {refused_base}/{m} = {100 * refused_base / m:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
