"""Measure the speech detection on a labelled audio set made here with espeak-ng and sox (printed, never
asserted; nothing is committed but this script).

    .venv/bin/python scripts/measure_speech.py [--out var/speech-set] [--seed 13] [--noise-minutes 15]

The set (16 kHz mono, generated at run time):
- speech tracks: synthetic utterances (espeak-ng: several voices, speeds and pitches) placed with
  2-6 s gaps, each utterance labelled by where it was placed; the same track mixed with room noise,
  a fan, keyboard typing, music, and a version where the voice is a second person at a distance
  (low-passed, reverberant, 20 dB quieter) over room noise;
- noise-only tracks (no speech at all): room tone, a fan, keyboard typing, music; ``--noise-minutes``
  each.

Real recordings, where Debian's alsa-utils is installed: its channel-test voice (/usr/share/sounds/alsa,
a person saying "Front left", "Rear right", ...), 8 phrases x 3 at random gains, mixed the same ways.

Two models, both Silero VAD v6 (the ONNX file of silero-vad 6.2.3 on the server; byte for byte the
file @ricky0123/vad-web 0.0.31 ships as silero_vad_v6.onnx for the browser), each at its product's
default settings, no tuning (so no threshold is fitted on this set):
- server: proctoring.audio as the upload check runs it (speech at p >= 0.5, until p < 0.35);
- browser: vad-web's frame processor re-implemented here over the same probabilities, with its
  defaults (positive 0.3, negative 0.25, pre-speech pad 800 ms, redemption 1400 ms, minimum
  speech 400 ms). It is an emulation: the real page also runs the browser's echo cancellation,
  noise suppression and gain control on the microphone first.
- end to end: what the browser would send and the server would then keep (its own VAD hears
  speech in the clip).

Figures: utterance recall (an utterance counts as found when at least half of it is covered),
false speech per hour of noise (segments and seconds), and bytes per student-hour sent (16 kHz
16-bit PCM WAV clips, as static/js/listen.js sends them) for a silent exam (room tone with
typing) and a talkative one (the speech track over a fan).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

RATE = 16_000
STEP = 512
SENTENCES = [
    "The answer to question three is forty two.", "Can you read me the next question?",
    "I think it is option B, the second one.", "Hold on, let me check my notes.",
    "Photosynthesis turns light into chemical energy.", "What did you put for number seven?",
    "Hey, are you still there?", "The derivative of x squared is two x.",
    "Write down the formula before you forget it.", "No, the capital of Australia is Canberra.",
    "Okay, skip that one and come back later.", "Twelve times twelve is one hundred and forty four.",
    "Mitochondria are the powerhouse of the cell.", "Just type what I say, quickly.",
    "The war ended in nineteen forty five.", "Sorry, I was talking to my brother.",
    "Is the timer still running?", "Hmm, I am not sure about this one.",
    "Read the question again, slowly.", "Call me after the exam, all right?",
]
VOICES = ["en", "en-us", "en-gb-x-rp", "en+f3", "en+m3", "en-us+f2", "en-gb-scotland", "en+f4"]


@dataclass
class Track:
    name: str
    samples: np.ndarray
    utterances: list[tuple[float, float]]  # labelled speech (seconds)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"{name} is needed: apt-get install espeak-ng sox (make browser-deps).")
    return path


def read_wav(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getframerate() == RATE and reader.getnchannels() == 1 and reader.getsampwidth() == 2
        return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float32) / 32768


def sox(source: str, *effects: str) -> np.ndarray:
    """Run sox on ``source`` (a file, or "-n" to synthesize) with ``effects``: 16 kHz mono 16-bit samples."""
    # -R: repeatable (sox seeds its noise generators and dither the same way every run).
    command = [tool("sox"), "-R", source, "-r", str(RATE), "-c", "1", "-b", "16", "-t", "wav", "-", *effects]
    out = subprocess.run(command, check=True, capture_output=True).stdout
    return read_wav(out)


def speak(text: str, voice: str, speed: int, pitch: int, folder: Path) -> np.ndarray:
    path = folder / "utterance.wav"
    subprocess.run([tool("espeak-ng"), "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
                   check=True, capture_output=True)
    return sox(str(path))


def trim(samples: np.ndarray) -> np.ndarray:
    """Without espeak's leading and trailing silence (so the label is where the voice is)."""
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0]:loud[-1] + 1] if len(loud) else samples


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) + 1e-12)


def speech_track(rng: random.Random, folder: Path, count: int) -> Track:
    pieces, utterances, at = [np.zeros(RATE * 2, dtype=np.float32)], [], 2.0
    for _ in range(count):
        voice = speak(rng.choice(SENTENCES), rng.choice(VOICES), rng.randint(140, 190), rng.randint(30, 70), folder)
        voice = trim(voice) * rng.uniform(0.5, 1.0)
        gap = np.zeros(int(rng.uniform(2, 6) * RATE), dtype=np.float32)
        utterances.append((at, at + len(voice) / RATE))
        pieces += [voice, gap]
        at += (len(voice) + len(gap)) / RATE
    return Track("speech", np.concatenate(pieces), utterances)


REAL_VOICES = Path("/usr/share/sounds/alsa")  # Debian's alsa-utils: a person saying "Front left", ...


def real_track(rng: random.Random, rounds: int = 3) -> Track | None:
    """Real recorded speech (alsa-utils' channel-test voice, 8 short phrases), each phrase ``rounds``
    times at random gains, with 2-6 s gaps; None when alsa-utils is not installed."""
    files = sorted(p for p in REAL_VOICES.glob("*.wav") if p.name != "Noise.wav") if REAL_VOICES.exists() else []
    if not files:
        return None
    pieces, utterances, at = [np.zeros(RATE * 2, dtype=np.float32)], [], 2.0
    for _ in range(rounds):
        for path in rng.sample(files, len(files)):
            voice = trim(sox(str(path))) * rng.uniform(0.3, 1.0)
            gap = np.zeros(int(rng.uniform(2, 6) * RATE), dtype=np.float32)
            utterances.append((at, at + len(voice) / RATE))
            pieces += [voice, gap]
            at += (len(voice) + len(gap)) / RATE
    return Track("real voice", np.concatenate(pieces), utterances)


def keyboard(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Typing: key clicks at about 5 a second in bursts, each a few ms of decaying filtered noise."""
    out = np.zeros(int(seconds * RATE), dtype=np.float32)
    t = 0.0
    while t < seconds - 0.05:
        t += rng.exponential(0.2) + (rng.exponential(2.0) if rng.random() < 0.05 else 0)  # pauses now and then
        start = int(t * RATE)
        length = int(0.012 * RATE)
        click = rng.standard_normal(length).astype(np.float32) * np.exp(-np.arange(length) / (0.002 * RATE))
        click = np.convolve(click, [1, -0.9], mode="same") * rng.uniform(0.05, 0.3)
        out[start:start + length] += click[: len(out) - start]
    return out


def fit(samples: np.ndarray, length: int) -> np.ndarray:
    return np.pad(samples, (0, max(0, length - len(samples))))[:length]


def noise(kind: str, seconds: float, folder: Path, seed: int) -> np.ndarray:
    """``seconds`` of one kind of background, exactly that many samples."""
    return fit(_noise(kind, seconds, folder, seed), int(seconds * RATE))


def _noise(kind: str, seconds: float, folder: Path, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    length = f"{seconds:.2f}"
    if kind == "room":
        return sox("-n", "synth", length, "pinknoise", "vol", "0.02")
    if kind == "fan":
        hum = sox("-n", "synth", length, "sine", "97", "vol", "0.02")
        air = sox("-n", "synth", length, "brownnoise",
                  "lowpass", "800", "vol", "0.6")
        return fit(hum, len(air)) + air
    if kind == "keyboard":
        return keyboard(seconds, rng) + noise("room", seconds, folder, seed)
    if kind == "music":
        # A synthetic tune (plucked notes and a pad, no voice), one phrase repeated.
        notes = [" ".join(["pluck", f"%{int(n)}"]) for n in rng.choice([-12, -9, -5, -3, 0, 2, 4, 7], size=16)]
        phrase = np.concatenate([sox("-n", "synth", "0.25",
                                     *note.split(), "vol", "0.4") for note in notes])
        tune = np.resize(phrase, int(seconds * RATE))
        pad = sox("-n", "synth", length, "sine", "220",
                  "sine", "277", "tremolo", "0.5", "40", "vol", "0.1")
        return tune + fit(pad, len(tune))
    raise ValueError(kind)


def mix(track: Track, kind: str, folder: Path, snr_db: float, seed: int) -> Track:
    background = noise(kind, len(track.samples) / RATE + 0.1, folder, seed)[: len(track.samples)]
    voiced = np.concatenate([track.samples[int(a * RATE):int(b * RATE)] for a, b in track.utterances])
    background *= rms(voiced) / rms(background) / (10 ** (snr_db / 20))
    return Track(f"speech+{kind} ({snr_db:g} dB SNR)", track.samples + background, track.utterances)


def distant(track: Track, folder: Path, seed: int) -> Track:
    source = folder / "near.wav"
    source.write_bytes(encode(track.samples))
    far = sox(str(source), "lowpass", "2500", "reverb", "70", "50", "100", "vol", "0.1")[: len(track.samples)]
    far = np.pad(far, (0, len(track.samples) - len(far)))
    room = noise("room", len(far) / RATE + 0.1, folder, seed)[: len(far)]
    return Track("second voice at a distance (-20 dB, reverberant) + room", far + room, track.utterances)


def encode(samples: np.ndarray) -> bytes:
    from proctoring.audio import encode_wav

    return encode_wav(samples)


def browser_segments(probs: np.ndarray) -> list[tuple[int, int]]:
    """vad-web 0.0.31's frame processor with its defaults: (first step, end step) of each segment sent,
    the pre-speech pad included."""
    positive, negative = 0.3, 0.25
    redemption, pad, minimum = round(1400 / 32), round(800 / 32), round(400 / 32)
    segments, speaking, start, redemption_count, speech_frames = [], False, 0, 0, 0
    for index, p in enumerate(probs):
        if p >= positive:
            redemption_count = 0
            if not speaking:
                speaking, start, speech_frames = True, index, 0
            speech_frames += 1
        elif speaking and p < negative:
            redemption_count += 1
            if redemption_count >= redemption:
                if speech_frames >= minimum:
                    segments.append((max(0, start - pad), index + 1))
                speaking, redemption_count = False, 0
    if speaking and speech_frames >= minimum:
        segments.append((max(0, start - pad), len(probs)))
    return segments


HARNESS_JS = """
async function runTrack(url, base) {
  const detector = await vad.MicVAD.new({
    model: "v6", baseAssetPath: base, onnxWASMBasePath: base, startOnLoad: false,
    ortConfig: function (ort) { ort.env.wasm.numThreads = 1; ort.env.wasm.proxy = false; },
    onSpeechEnd: function (audio) { segments.push([Math.max(0, frame + 1 - audio.length / 512), frame + 1]); },
  });
  const samples = new Float32Array(await (await fetch(url)).arrayBuffer());
  const segments = [];
  let frame = 0;
  detector.frameProcessor.resume();
  for (frame = 0; (frame + 1) * 512 <= samples.length; frame++) {
    await detector.processFrame(samples.subarray(frame * 512, (frame + 1) * 512));
  }
  frame -= 1;

  return segments;
}
"""


def real_browser_segments(tracks: list[Track], folder: Path) -> list[list[tuple[int, int]]]:
    """The segments vad-web itself cuts (its MicVAD, v6 model, defaults) in headless Chromium, fed the
    track frame by frame (no microphone, so without the browser's noise suppression)."""
    import http.server
    import threading
    from functools import partial

    from playwright.sync_api import sync_playwright

    from config.staticfinders import VENDOR_FILES

    site = folder / "harness"
    site.mkdir(exist_ok=True)
    for path, (package, name) in VENDOR_FILES.items():
        shutil.copy(ROOT / package / name, site / Path(path).name)
    (site / "harness.js").write_text(HARNESS_JS)
    (site / "index.html").write_text('<script src="bundle.min.js"></script><script src="harness.js"></script>')
    for index, track in enumerate(tracks):
        (site / f"track{index}.f32").write_bytes(track.samples.astype("<f4").tobytes())
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    results = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"])
            page = browser.new_page()
            page.goto(base)
            for index in range(len(tracks)):
                found = page.evaluate("([url, base]) => runTrack(url, base)", [f"{base}track{index}.f32", base])
                results.append([(int(a), int(b)) for a, b in found])
            browser.close()
    finally:
        server.shutdown()
    return results


def covered(utterance: tuple[float, float], mask: np.ndarray) -> bool:
    a, b = int(utterance[0] * RATE / STEP), max(int(utterance[0] * RATE / STEP) + 1, int(utterance[1] * RATE / STEP))
    return float(mask[a:b].mean()) >= 0.5


def runs(mask: np.ndarray) -> int:
    return int(np.sum(mask[1:] & ~mask[:-1]) + (1 if len(mask) and mask[0] else 0))


def evaluate(track: Track, real: list[tuple[int, int]] | None = None) -> dict[str, float]:
    from proctoring.audio import Clip, hear, probabilities, speech_mask

    probs = probabilities(track.samples)
    server = speech_mask(probs)
    sent = browser_segments(probs)
    browser = np.zeros(len(probs), dtype=bool)
    kept = np.zeros(len(probs), dtype=bool)
    sent_bytes = kept_count = 0
    for a, b in sent:
        browser[a:b] = True
        clip = track.samples[a * STEP:b * STEP]
        sent_bytes += 44 + 2 * len(clip)
        if hear(Clip(samples=clip)).seconds > 0:
            kept[a:b] = True
            kept_count += 1
    hours = len(track.samples) / RATE / 3600
    chromium = np.zeros(len(probs), dtype=bool)
    for a, b in real or []:
        chromium[a:b] = True
    result = {"chromium_sent": len(real or []), "hours": hours, "sent": len(sent), "kept": kept_count,
              "bytes_per_hour": sent_bytes / hours,
              "server_segments": runs(server), "server_false_seconds": float(server.sum()) * STEP / RATE}
    if track.utterances:
        n = len(track.utterances)
        result.update({
            "utterances": n,
            "server_recall": sum(covered(u, server) for u in track.utterances) / n,
            "browser_recall": sum(covered(u, browser) for u in track.utterances) / n,
            "end_to_end_recall": sum(covered(u, kept) for u in track.utterances) / n,
            "chromium_recall": (sum(covered(u, chromium) for u in track.utterances) / n
                                if real is not None else -1),
            "speech_fraction": sum(b - a for a, b in track.utterances) * RATE / len(track.samples),
        })
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "var" / "speech-set"))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--utterances", type=int, default=60)
    parser.add_argument("--noise-minutes", type=float, default=15)
    parser.add_argument("--chromium", action="store_true",
                        help="also run vad-web itself in headless Chromium on every track (needs chromium)")
    args = parser.parse_args()
    import django

    django.setup()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    began = time.monotonic()
    clean = speech_track(rng, folder, args.utterances)
    speech_tracks = [
        mix(clean, "room", folder, 30, args.seed), mix(clean, "fan", folder, 10, args.seed),
        mix(clean, "keyboard", folder, 10, args.seed), mix(clean, "music", folder, 10, args.seed),
        mix(clean, "music", folder, 0, args.seed), distant(clean, folder, args.seed),
    ]
    real = real_track(rng)
    if real is not None:
        speech_tracks += [Track("real voice (alsa-utils) + room (30 dB SNR)", mix(real, "room", folder, 30,
                                args.seed).samples, real.utterances),
                          Track("real voice (alsa-utils) + fan (10 dB SNR)", mix(real, "fan", folder, 10,
                                args.seed).samples, real.utterances),
                          Track("real voice (alsa-utils) + music (0 dB SNR)", mix(real, "music", folder, 0,
                                args.seed).samples, real.utterances),
                          Track("real voice (alsa-utils), distant + room", distant(real, folder, args.seed).samples,
                                real.utterances)]
    seconds = args.noise_minutes * 60
    noise_tracks = [Track(f"{kind} only", noise(kind, seconds, folder, args.seed + i) * (0.5 if kind == "music" else 1),
                          []) for i, kind in enumerate(("room", "fan", "keyboard", "music"))]
    print(f"Set: {len(clean.utterances)} utterances, {len(clean.samples) / RATE / 60:.1f} min a speech track; "
          f"{len(noise_tracks)} x {args.noise_minutes:g} min of noise only (seed {args.seed}; "
          f"made in {time.monotonic() - began:.0f} s)\n")
    real_runs: list[list[tuple[int, int]] | None] = [None] * (len(speech_tracks) + len(noise_tracks))
    if args.chromium:
        real_runs = list(real_browser_segments(speech_tracks + noise_tracks, folder))
    print(f"{'speech track':58} {'server':>7} {'browser':>8} {'end2end':>8} {'chromium':>9} {'sent':>5} "
          f"{'kB/hour':>9}")
    for index, track in enumerate(speech_tracks):
        r = evaluate(track, real_runs[index])
        chromium = f"{r['chromium_recall']:9.1%}" if args.chromium else f"{'-':>9}"
        print(f"{track.name:58} {r['server_recall']:7.1%} {r['browser_recall']:8.1%} {r['end_to_end_recall']:8.1%} "
              f"{chromium} {r['sent']:5d} {r['bytes_per_hour'] / 1000:9.0f}")
        if track.name.startswith("speech+fan"):
            talkative = r
    print(f"\n{'noise only':20} {'server segs/h':>13} {'server s/h':>11} {'browser sent/h':>15} {'kept/h':>7} "
          f"{'chromium sent/h':>16} {'kB/hour':>9}")
    total_hours = server_segments = server_seconds = sent = kept = 0.0
    for index, track in enumerate(noise_tracks):
        r = evaluate(track, real_runs[len(speech_tracks) + index])
        h = r["hours"]
        total_hours += h
        server_segments += r["server_segments"]
        server_seconds += r["server_false_seconds"]
        sent += r["sent"]
        kept += r["kept"]
        print(f"{track.name:20} {r['server_segments'] / h:13.1f} {r['server_false_seconds'] / h:11.1f} "
              f"{r['sent'] / h:15.1f} {r['kept'] / h:7.1f} "
              f"{(r['chromium_sent'] / h if args.chromium else float('nan')):16.1f} {r['bytes_per_hour'] / 1000:9.0f}")
        if track.name == "keyboard only":
            silent = r
    print(f"{'all noise':20} {server_segments / total_hours:13.1f} {server_seconds / total_hours:11.1f} "
          f"{sent / total_hours:15.1f} {kept / total_hours:7.1f}")
    print(f"\nBytes per student-hour sent (16 kHz PCM WAV clips): silent exam (room tone and typing) "
          f"{silent['bytes_per_hour'] / 1e6:.2f} MB; talkative exam (speech {talkative['speech_fraction']:.0%} "
          f"of the time, over a fan) {talkative['bytes_per_hour'] / 1e6:.1f} MB.")
    print(f"Done in {time.monotonic() - began:.0f} s.")


if __name__ == "__main__":
    main()
