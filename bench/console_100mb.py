"""Can a person follow a run from its console alone? ``xcurate run`` of the quickstart pipeline on
``--mb`` of real multilingual text, as a user starts it off a terminal (stdout and stderr to a
pipe, as under ``nohup``, CI or a job scheduler).

Input: ``bench._common.resampled_corpus`` (UD sentences of 60+ languages resampled into
documents, JSONL in 8 files). Command: ``xcurate run CONFIG -o OUT --set input.paths=[...]`` in a
subprocess, CONFIG being ``configs/quickstart.yaml`` without the stages named by ``--skip``
(default ``decontaminate_xling``: it embeds every document with USE-m3 and took 729 task-seconds
for 5 MB here, hours for 100 MB); every console line is stamped with the seconds since the
process started as it arrives.

Written: ``bench/results/console_<mb>mb.txt`` (the console exactly as printed) and
``console_<mb>mb.json``: process wall time, console lines, seconds to the first line and to the
first progress line, and the longest silence (the most seconds between two lines while the run
went on), and ``timeline`` (each line's arrival second). There is no speed baseline here: the
figure to judge is the silence against the progress interval (``XCURATE_PROGRESS_INTERVAL_S``,
default 15 s).

    python -m bench.console_100mb             # 100 MB -> bench/results/console_100mb.{txt,json}
    python -m bench.console_100mb --mb 30     # -> console_30mb.{txt,json}
"""
from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import threading
import time

import yaml

from bench._common import REPO, RESULTS, WORK, resampled_corpus, write_result


def _pump(stream, name: str, lines: "queue.Queue", started: float) -> None:
    for line in iter(stream.readline, ""):
        lines.put((time.monotonic() - started, name, line.rstrip("\n")))
    lines.put(None)


def run_console(args: list, env: dict) -> tuple:
    """(return code, [(seconds, stream, line)], wall seconds) of ``xcurate ARGS`` with piped output."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "xcurate", *args], cwd=str(REPO), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1)
    lines: "queue.Queue" = queue.Queue()
    pumps = [threading.Thread(target=_pump, args=(s, n, lines, started), daemon=True)
             for s, n in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
    for t in pumps:
        t.start()
    got, open_streams = [], 2
    while open_streams:
        item = lines.get()
        if item is None:
            open_streams -= 1
        else:
            got.append(item)
    rc = proc.wait()
    return rc, got, time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=100.0)
    ap.add_argument("--interval-s", type=float, default=None, help="XCURATE_PROGRESS_INTERVAL_S (default: xcurate's)")
    ap.add_argument("--skip", nargs="*", default=["decontaminate_xling"], help="quickstart stages left out")
    args = ap.parse_args()
    config = yaml.safe_load((REPO / "configs" / "quickstart.yaml").read_text(encoding="utf-8"))
    config["stages"] = [st for st in config["stages"] if st["type"] not in args.skip]
    WORK.mkdir(parents=True, exist_ok=True)
    config_path = WORK / "console_quickstart.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    corpus = resampled_corpus(WORK / f"console_{args.mb:g}mb_input", args.mb)
    out = WORK / f"console_{args.mb:g}mb_out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("RAY_ADDRESS", None)
    if args.interval_s is not None:
        env["XCURATE_PROGRESS_INTERVAL_S"] = str(args.interval_s)
    paths = sorted(str(p) for p in corpus.glob("*.jsonl"))
    # a fresh run each time; --overwrite removes only the files xcurate wrote there (the OUTDIR safety rules)
    command = ["run", str(config_path), "-o", str(out), "--overwrite", "--set", f"input.paths={paths}"]
    rc, lines, wall = run_console(command, env)
    name = f"console_{args.mb:g}mb"
    text = "\n".join(line for _, _, line in lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(text, encoding="utf-8")
    times = [t for t, _, _ in lines]
    gaps = [b - a for a, b in zip([0.0] + times, times)]
    progress = next((t for t, _, line in lines if "units" in line and line.startswith("[")), None)
    result = {
        "command": "xcurate " + " ".join(command[:4]) + " --set input.paths=[<8 JSONL files>]",
        "stages": [st["type"] for st in config["stages"]], "skipped_stages": args.skip,
        "input_mb": round(sum(os.path.getsize(p) for p in paths) / (1 << 20), 1),
        "returncode": rc, "wall_s": round(wall, 1), "console_lines": len(lines),
        "first_line_s": round(times[0], 1) if times else None,
        "first_progress_line_s": round(progress, 1) if progress is not None else None,
        "longest_silence_s": round(max(gaps), 1) if gaps else None,
        "longest_silence_after": lines[gaps.index(max(gaps)) - 1][2] if len(gaps) > 1 else None,
        "interval_s": args.interval_s,
        "note": "2 cores shared with other jobs (load average recorded below); wall time is not a speed figure",
        "load_average": os.getloadavg(),
        "timeline": [[round(t, 1), line[:100]] for t, _, line in lines],
    }
    write_result(name, result)
    print(text)
    sys.exit(rc)


if __name__ == "__main__":
    main()
