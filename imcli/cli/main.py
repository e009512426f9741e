"""The ``imcli`` entry point.

Fast paths answer ``--version``, ``platforms``, shell completion of account names and
well-formed ``push`` lines (``cmdline.parse_push``) before typer (or anything heavier) is
imported; everything else, every usage error included, goes to the typer app.
Usage errors print the usage line and one error line, never a boxed panel.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from imcli.cli import output


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _run(args)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # a reader that went away before a listing was written whole (`| head`)
        output.discard("stdout")
        code = 1
    output.flush()
    if argv is None:  # the real process, not an in-process caller such as the tests
        import gc

        gc.freeze()  # nothing is left to collect: skip the exit-time sweep of every module
    sys.exit(code)


SHORT_HELP = """\
imcli {version}: push text, images, voice, video and files to Telegram, WeChat, QQ,
Lark/Feishu, Slack and WeCom.

  imcli accounts add                            add an account (asks for its fields)
  imcli push text -p telegram -u CHAT 'hello'   send a text; image, voice, video,
                                                file and mixed work alike
  imcli platforms                               what each platform can send

`imcli --help` lists every command; `imcli push text --help` shows one.
"""


def _run(args: list[str]) -> int:
    if not args and "_IMCLI_COMPLETE" not in os.environ:
        from imcli._version import __version__

        output.out(SHORT_HELP.format(version=__version__).rstrip("\n"))
        return 0
    if args in (["--version"], ["-V"]):
        from imcli._version import __version__

        output.out(f"imcli {__version__}")
        return 0
    if args and args[0] == "platforms" and set(args[1:]) <= {"--json"}:
        from imcli.cli import platforms_cmd

        return platforms_cmd.show(json_out="--json" in args[1:])
    if "_IMCLI_COMPLETE" in os.environ:
        from imcli.cli import complete

        fast = complete.fast_path()
        if fast is not None:
            return fast
        return complete.typer_path(args)
    if args and args[0] in ("push", "--profile"):
        from imcli.cli import cmdline

        parsed = cmdline.parse_push(args)
        if parsed is not None:
            from imcli.cli import push_run

            kind, kwargs = parsed
            return push_run.push(kind, **kwargs)
    from imcli.cli.app import run_app

    return run_app(args)


if __name__ == "__main__":  # pragma: no cover
    main()
