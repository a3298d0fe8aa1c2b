"""`hipcam` command line: one subcommand per job; the work lives in the modules it calls.

Imports of heavy modules happen inside each command so `hipcam --help` and `hipcam config check`
stay fast, and a broken optional part cannot stop the others from running.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hipcam import __version__
from hipcam.config import DEFAULT_CONFIG_PATH, HipcamConfig, load_config
from hipcam.errors import HipcamError


def _config_path(args: argparse.Namespace) -> Path | None:
    """--config, else $HIPCAM_CONFIG, else /etc/hipcam/config.toml if it exists, else defaults."""
    if args.config:
        return Path(args.config)
    if os.environ.get("HIPCAM_CONFIG"):
        return Path(os.environ["HIPCAM_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def _config(args: argparse.Namespace) -> HipcamConfig:
    return load_config(_config_path(args))


def cmd_fetch(args: argparse.Namespace) -> int:
    from hipcam.assets import fetch

    models_dir = Path(args.models_dir) if args.models_dir else _config(args).paths.models()
    fetch(models_dir)
    return 0


def cmd_build_int8(args: argparse.Namespace) -> int:
    from hipcam.commands.build_int8 import run_build_int8

    cfg = _config(args)
    models_dir = Path(args.models_dir) if args.models_dir else cfg.paths.models()
    return run_build_int8(cfg, models_dir, [Path(c) for c in args.clip], force=args.force)


def cmd_analyze(args: argparse.Namespace) -> int:
    from hipcam.commands.analyze import run_analyze

    if (args.video is None) == (args.landmarks is None):
        raise HipcamError("give either a VIDEO or --landmarks FILE.npz (one of them)")
    return run_analyze(
        _config(args),
        video=Path(args.video) if args.video else None,
        landmarks=Path(args.landmarks) if args.landmarks else None,
        fps=args.fps,
        landmarks_out=Path(args.landmarks_out) if args.landmarks_out else None,
        json_out=Path(args.json) if args.json else None,
        progress=not args.no_progress,
        hip_offset=args.hip_offset,
    )


def cmd_setup_check(args: argparse.Namespace) -> int:
    from hipcam.commands.setup_check import run_setup_check

    video = Path(args.video) if args.video else None
    json_out = Path(args.json) if args.json else None
    image = Path(args.image) if args.image else None
    return run_setup_check(
        _config(args), video=video, fps=args.fps, seconds=args.seconds, json_out=json_out, image_out=image
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from hipcam.commands.bench import format_bench, run_bench

    if args.budget:
        from hipcam.commands.bench import format_budget

        print(format_budget(_config(args)))
        return 0
    if not args.video:
        raise HipcamError("bench: give a video (or --budget for the compute table)")
    cfg = _config(args)
    if args.mask_schedule:
        from hipcam.commands.bench_mask import run_mask_bench

        print(run_mask_bench(cfg, args.video, args.frames))
        return 0
    if args.precision:
        cfg = cfg.model_copy(update={"pose": cfg.pose.model_copy(update={"precision": args.precision})})
    report = run_bench(Path(args.video), cfg, max_frames=args.frames)
    print(format_bench(report))
    if args.json:
        from hipcam.commands.bench import write_json

        write_json(report, Path(args.json))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from hipcam.commands.compare import compare_files, format_comparison

    print(format_comparison(compare_files(Path(args.reference), Path(args.candidate))))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from hipcam.commands.serve import run_serve
    from hipcam.logging_setup import setup_logging

    # --host/--port go through the same validation as the config file's keys.
    given = {"host": args.host, "port": args.port}
    cfg = load_config(_config_path(args), overrides={"server": {k: v for k, v in given.items() if v is not None}})
    setup_logging(cfg.logging.level, cfg.logging.format)
    return run_serve(cfg, source=args.source, host=None, port=None)


def cmd_config_check(args: argparse.Namespace) -> int:
    from hipcam.commands.config_check import check_config

    cfg_path = Path(args.file) if args.file else _config_path(args)
    if cfg_path is None:
        raise HipcamError(f"no config file given and {DEFAULT_CONFIG_PATH} does not exist")
    return check_config(cfg_path, runtime=not args.file_only)


def cmd_pin_hash(args: argparse.Namespace) -> int:
    from hipcam.auth import hash_pin, pin_hash_main

    if sys.stdin.isatty():
        return pin_hash_main([])  # asks twice without echo
    print(hash_pin(sys.stdin.readline().strip()))  # scripted (install-pi.sh): one line in, the hash out
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from hipcam.commands.soak import run_soak

    return run_soak(_config(args), args.minutes, args.viewers, report_every_s=args.every, source=args.source)


def cmd_bench_service(args: argparse.Namespace) -> int:
    from hipcam.commands.bench_service import run_service_bench

    return run_service_bench(_config(args), seconds=args.seconds, viewers=args.viewers, source=args.source)


def cmd_label(args: argparse.Namespace) -> int:
    from hipcam.commands.label import run_label

    return run_label(args)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from hipcam.commands.evaluate import run_evaluate

    return run_evaluate(Path(args.truth), Path(args.analysis), json_out=Path(args.json) if args.json else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hipcam", description="Treadmill-side hip-extension camera.")
    parser.add_argument("--version", action="version", version=f"hipcam {__version__}")
    config_help = "config TOML (default: $HIPCAM_CONFIG or /etc/hipcam/config.toml)"
    parser.add_argument("--config", help=config_help)
    # --config is accepted after the subcommand too (`hipcam serve --config FILE`, as the unit runs it).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        p.set_defaults(func=func)
        return p

    p = add("fetch", cmd_fetch, "download and verify the BlazePose models and the demo clip")
    p.add_argument("--models-dir", help="where to put them (default: config paths.models_dir)")

    _add_build_int8(add("build-int8", cmd_build_int8, "build the int8 landmark model from the fetched one, here"))

    _add_analyze(add("analyze", cmd_analyze, "analyse a side-view video (or a landmarks file) stride by stride"))

    _add_setup_check(add("setup-check", cmd_setup_check, "check the camera set-up with a runner on the treadmill"))

    _add_bench(add("bench", cmd_bench, "measure pose throughput, per-stage latency and memory on a video"))

    p = add("compare-landmarks", cmd_compare, "agreement of two landmarks files (reference first)")
    p.add_argument("reference")
    p.add_argument("candidate")

    p = add("serve", cmd_serve, "run the live service and the tablet page")
    p.add_argument("--source", help="auto | picamera | demo | camera index | device path | URL | video file")
    p.add_argument("--host", help="listen address (default: config server.host)")
    p.add_argument("--port", type=int, help="listen port (default: config server.port)")

    p = add("config", cmd_config_check, "configuration file tools")
    config_sub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    p = config_sub.add_parser("check", help="validate a config file", parents=[common])
    p.add_argument("file", nargs="?", help="config TOML (default: --config, $HIPCAM_CONFIG, /etc/hipcam/config.toml)")
    p.add_argument("--file-only", action="store_true", help="check the file alone, not the camera/port/dirs")

    add("pin-hash", cmd_pin_hash, "read a PIN on stdin, print the hash for server.pin_hash")
    _add_network_tools(add)

    p = add("soak", cmd_soak, "run the service on the looped demo clip with viewers; print figures")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--viewers", type=int, default=3)
    p.add_argument("--every", type=float, default=60.0, help="seconds between reports")
    p.add_argument("--source", default="demo", help="the looped clip (a runner's clip also soaks the replay clips)")

    p = add("bench-service", cmd_bench_service, "capture-to-page latency and fps with 0 vs N viewers")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--viewers", type=int, default=10)
    p.add_argument("--source", default="demo")

    _add_accuracy_tools(add)
    return parser


def _add_network_tools(add: Callable[..., argparse.ArgumentParser]) -> None:
    """tls-cert, token and hub: each module registers itself (light; the work's imports are inside)."""
    from hipcam.commands.hub import add_command as add_hub
    from hipcam.commands.tls_cert import add_command as add_tls_cert
    from hipcam.commands.token import add_command as add_token

    add_tls_cert(add, _config)
    add_token(add, _config)
    add_hub(add, lambda args, overrides: load_config(_config_path(args), overrides=overrides))


def _add_setup_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", nargs="?", help="a video file (default: the configured camera, as serve uses)")
    p.add_argument("--fps", type=float, help="true capture rate (slow-motion footage)")
    p.add_argument("--seconds", type=float, default=20.0, help="capture time to check (default 20)")
    p.add_argument("--json", help="also write the checks as JSON")
    p.add_argument("--image", help="also write the frame with the measured lines (.jpg or .png)")


def _add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", nargs="?")
    p.add_argument("--frames", type=int, default=None, help="use at most this many frames")
    p.add_argument("--budget", action="store_true", help="print the MACs per frame from the model graphs instead")
    p.add_argument("--precision", choices=("auto", "fp32", "fp16", "int8"), help="override pose.precision")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--mask-schedule", action="store_true", help="the live analysis with the mask scheduled vs not")


def _add_build_int8(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", help="the models folder (default: config paths.models_dir)")
    p.add_argument("--clip", action="append", default=[], help="also calibrate on this video (repeatable)")
    p.add_argument("--force", action="store_true", help="rebuild even if the built model is up to date")


def _add_analyze(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", nargs="?", help="video file")
    p.add_argument("--landmarks", help="analyse this landmarks .npz instead of a video")
    p.add_argument("--fps", type=float, help="true capture rate (slow-motion footage: e.g. 240)")
    p.add_argument("--landmarks-out", help="write the landmarks (.npz, MediaPipe reference format)")
    p.add_argument("--json", help="write the stride analysis as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--hip-offset",
        type=_hip_offset,
        metavar="FORWARD,UP",
        help="a hip calibration: greater trochanter minus BlazePose's hip, in trunk lengths of the pelvis frame "
        "(forward in the running direction, up toward the shoulders), e.g. 0.02,-0.12 (as GET /api/calibration gives)",
    )


def _hip_offset(text: str) -> tuple[float, float]:
    """FORWARD,UP as two numbers; argparse reports anything else as a one-line usage error."""
    parts = text.replace(" ", "").split(",")
    try:
        forward, up = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected FORWARD,UP, two numbers in trunk lengths, e.g. 0.02,-0.12"
        ) from None
    if not all(math.isfinite(v) for v in (forward, up)):
        raise argparse.ArgumentTypeError(f"{text!r}: FORWARD and UP must be finite numbers")
    return forward, up


def _add_accuracy_tools(
    add: Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser],
) -> None:
    """The hand-truth tools: label a clip, evaluate an analysis against its labels."""
    p = add("label", cmd_label, "label gait events and joints of a video by hand, on a local page")
    p.add_argument("video")
    p.add_argument("--truth", help="truth JSON to write (and to continue from if it exists)")
    p.add_argument("--fps", type=float, help="true capture rate, when the file's rate is not it (slow motion)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8088)

    p = add("evaluate", cmd_evaluate, "compare an analysis JSON with hand-labelled truth: events, cadence, angles")
    p.add_argument("truth", help="truth JSON (hipcam label's format)")
    p.add_argument("analysis", help="analysis JSON (hipcam analyze --json)")
    p.add_argument("--json", help="also write the figures as JSON")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HipcamError as exc:
        print(f"hipcam: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hipcam … | head`: the reader left; not an error worth a message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: say so in one line; HIPCAM_DEBUG=1 shows the traceback
        if os.environ.get("HIPCAM_DEBUG"):
            raise
        print(f"hipcam: internal error: {exc.__class__.__name__}: {exc} (HIPCAM_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
