"""Videos written in code for the video tests: slideshows of scikit-image photographs with pans,
zooms and cuts, and their re-publications (re-encoded, scaled, letterboxed, stamped, greyed,
trimmed, cut into a longer video). Small and short, so the video tests stay fast."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

from .conftest import photo


def slideshow(names: list[str], size=(320, 180), fps: int = 12, shot_s: float = 2.5, seed: int = 0) -> list[np.ndarray]:
    """Frames (RGB arrays) of one shot per photo: a slow zoom and pan across it, hard cuts between."""
    w, h = size
    rng = np.random.default_rng(seed)
    frames = []
    per_shot = int(round(shot_s * fps))
    for k, name in enumerate(names):
        pic = np.asarray(photo(name))
        ph, pw = pic.shape[:2]
        z0, z1 = (1.0, 1.25) if k % 2 == 0 else (1.25, 1.0)
        fx0, fx1 = rng.uniform(0.0, 0.3), rng.uniform(0.0, 0.3)
        for i in range(per_shot):
            u = i / max(per_shot - 1, 1)
            z = z0 + (z1 - z0) * u
            cw = pw / z
            ch = cw * h / w
            if ch > ph / z:
                ch = ph / z
                cw = ch * w / h
            x0 = (pw - cw) * (fx0 + (fx1 - fx0) * u) / 0.3 * 0.5
            y0 = (ph - ch) * 0.5
            m = np.array([[w / cw, 0, -x0 * w / cw], [0, h / ch, -y0 * h / ch]])
            frames.append(cv2.warpAffine(pic, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT))
    return frames


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int = 12, codec: str = "libx264",
                options: dict | None = None, audio: bool = False, rotation: int = 0,
                metadata: dict | None = None, muxer_options: dict | None = None) -> Path:
    """Encode RGB frames to a file; the container follows the file name."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=muxer_options or {}) as out:
        if metadata:
            out.metadata.update(metadata)
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = options if options is not None else ({"preset": "veryfast", "crf": "26"} if codec == "libx264" else {})
        if rotation:
            stream.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=16000)
        for i, f in enumerate(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None:
            _write_tone(out, sound, len(frames) / fps)
    return path


def write_audio_only(path: Path, seconds: float = 2.0) -> Path:
    """An MP4 holding only an AAC tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        _write_tone(out, out.add_stream("aac", rate=16000), seconds)
    return path


def _write_tone(out, stream, seconds: float) -> None:
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, len(samples), 1024):
        chunk = samples[start:start + 1024][None, :]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


# --- re-publication edits (per frame) ----------------------------------------------------------

def scale(frames, size):
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def letterbox(frames, size=(320, 240)):
    """Fit each frame into `size` with black bars (16:9 into 4:3: bars top and bottom)."""
    w, h = size
    out = []
    for f in frames:
        fh, fw = f.shape[:2]
        s = min(w / fw, h / fh)
        nw, nh = int(round(fw * s)) // 2 * 2, int(round(fh * s)) // 2 * 2
        canvas = np.zeros((h, w, 3), np.uint8)
        y, x = (h - nh) // 2, (w - nw) // 2
        canvas[y:y + nh, x:x + nw] = cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA)
        out.append(canvas)
    return out


def logo(frames, text="NEWS 24"):
    out = []
    for f in frames:
        img = Image.fromarray(f)
        d = ImageDraw.Draw(img)
        w, h = img.size
        d.rectangle((w - w // 4 - 6, 6, w - 6, 6 + h // 9), fill=(200, 20, 20))
        d.text((w - w // 4, 8), text, fill="white")
        out.append(np.asarray(img))
    return out


def grey(frames):
    return [np.repeat(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2) for f in frames]


def sepia(frames):
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    return [np.clip(f.astype(np.float32) @ m.T, 0, 255).astype(np.uint8) for f in frames]


def player_screenshot(frame: np.ndarray) -> Image.Image:
    """A screenshot of a video player showing `frame`: a page around it, controls drawn over it."""
    h, w = frame.shape[:2]
    shown = Image.fromarray(frame).resize((w * 2, h * 2), Image.Resampling.BICUBIC)
    page = Image.new("RGB", (shown.width + 80, shown.height + 160), (245, 245, 245))
    page.paste(shown, (40, 60))
    d = ImageDraw.Draw(page)
    d.text((40, 20), "Video title - channel", fill=(20, 20, 20))
    y = 60 + shown.height - 28
    d.rectangle((40, y, 40 + shown.width, 60 + shown.height), fill=(20, 20, 20))
    d.rectangle((50, y + 10, 50 + shown.width // 3, y + 14), fill=(230, 30, 30))
    d.polygon([(46, y + 4), (46, y + 24), (62, y + 14)], fill="white")
    d.text((40 + shown.width - 90, y + 8), "0:03 / 0:10", fill="white")
    return page
