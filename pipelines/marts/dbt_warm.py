"""dbt started ahead of its step: a process that imports dbt and parses the project while the
refresh ingests and checks, then runs the one dbt command the marts step asks for.

dagster-dbt runs `<executable> build ...` as a subprocess and reads its JSON log lines. A
cold dbt process spends about 4 s before its first node (Python and dbt's imports about
2.5 s, loading the partial parse about 1 s) on the refresh's critical path. The resource's
executable is `yiyu-dbt` (main()): when a warmed process waits (`YIYU_DBT_WARM` names its
socket), it hands over its arguments, environment, working folder and standard streams, and
exits with dbt's exit code; else (the UI, the daemon, a second command) it becomes dbt
itself (exec). dagster-dbt sees a dbt process either way.

The warmed process uses its parsed project only for a command with the settings it parsed
with (vars, profile environment, project and profiles folders); else dbt parses as usual.
It ends with the refresh's process (its stdin is a pipe from it), even when that is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SOCKET_ENV = "YIYU_DBT_WARM"
STREAMS = (0, 1, 2)


# The launcher: `yiyu-dbt`, the dbt executable of the Dagster resource.


def main() -> None:
    address = os.environ.get(SOCKET_ENV)
    if address:
        code = _hand_over(address, sys.argv[1:])
        if code is not None:
            sys.exit(code)
    dbt = os.fspath(Path(sys.executable).parent / "dbt")
    os.execv(dbt, [dbt, *sys.argv[1:]])


def _hand_over(address: str, args: list[str]) -> int | None:
    """dbt's exit code from the warmed process; None when none took the command (it is gone,
    was never ready, or served another), and this process runs dbt itself."""
    request = {"argv": args, "env": dict(os.environ), "cwd": os.getcwd()}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(address)
            socket.send_fds(conn, [b"R"], list(STREAMS))
            conn.sendall(json.dumps(request).encode())
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            return None
        replies = conn.makefile("r")
        started = replies.readline()
        if not started:  # closed before it ran anything: dbt never touched the streams
            return None
        pid = int(started)
        for sig in (signal.SIGINT, signal.SIGTERM):  # dagster-dbt stops dbt with SIGINT
            signal.signal(sig, lambda number, _frame: os.kill(pid, number))
        ended = replies.readline()
    if not ended:
        print(f"yiyu-dbt: the warmed dbt process {pid} ended without an exit code", file=sys.stderr)
        return 2
    return int(ended)


# The refresh's side.


@contextlib.contextmanager
def warmed(scratch: Path, parse: dict[str, Any], env: dict[str, str]) -> Iterator[None]:
    """A warmed dbt process for the duration of the block, its socket in `scratch`.

    `parse`: the `dbt parse` arguments (target path in scratch), and the settings they carry:
    `vars`, `profile` (environment), `project_dir`, `profiles_dir`."""
    address = os.fspath(scratch / "socket")
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", __name__, address, json.dumps(parse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.environ[SOCKET_ENV] = address
    try:
        yield
    finally:
        os.environ.pop(SOCKET_ENV, None)
        server.stdin.close()  # an idle server ends here; a serving one has finished by now
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(scratch, ignore_errors=True)


# The warmed process (python -m pipelines.marts.dbt_warm ADDRESS PARSE).


def _serve(address: str, parse: dict[str, Any]) -> None:
    _end_with_refresh()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)  # before the imports: a launcher that comes early waits for them
    listener.listen(1)
    from dbt.cli.main import cli, dbtRunner

    parsed = dbtRunner().invoke(parse["argv"])
    manifest = parsed.result if parsed.success else None
    conn, _ = listener.accept()
    listener.close()
    os.unlink(address)  # one command only: a later launcher runs dbt itself
    _, fds, _, _ = socket.recv_fds(conn, 1, len(STREAMS))
    request = json.loads(conn.makefile("rb").read())
    for stream, fd in zip(STREAMS, fds, strict=True):
        os.dup2(fd, stream)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    args = request["argv"]
    sys.argv = ["dbt", *args]  # what dbt logs as its command line
    if manifest is not None and same_settings(parse, args, request["env"]):
        _keep_parse_state(parse["target"], request["env"].get("DBT_TARGET_PATH"))
    else:
        manifest = None
    conn.sendall(f"{os.getpid()}\n".encode())
    obj = {"manifest": manifest, "callbacks": [], "dbt_runner_command_args": args}
    try:
        cli.main(args=args, prog_name="dbt", obj=obj)  # as the `dbt` command, exit codes too
        code = 0
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(f"{code}\n".encode())
    conn.close()
    os._exit(code)  # no teardown of dbt's modules


def same_settings(parse: dict[str, Any], args: list[str], env: dict[str, str]) -> bool:
    """Whether a dbt command would parse the project as the warm-up did: the same vars, the
    same profile environment, the same project and profiles folders."""
    if "--vars" not in args or args.count("--vars") > 1:
        return False
    given = args[args.index("--vars") + 1]
    folders = {"project_dir": "DBT_PROJECT_DIR", "profiles_dir": "DBT_PROFILES_DIR"}
    return (
        json.loads(given) == parse["vars"]
        and all(env.get(key) == value for key, value in parse["profile"].items())
        and all(
            env.get(variable) and Path(env[variable]).resolve() == Path(parse[name]).resolve()
            for name, variable in folders.items()
        )
    )


def _keep_parse_state(parsed: str, build_target: str | None) -> None:
    """The warm-up's partial-parse state goes where the build would have written its own, so
    the marts step keeps it for the next refresh (pipelines/marts/dbt.py, keep_parse_state)."""
    state = Path(parsed) / "partial_parse.msgpack"
    if build_target and state.exists():
        Path(build_target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state, Path(build_target) / state.name)


def _end_with_refresh() -> None:
    """End this process when the refresh's process closes the pipe on our stdin: it stopped
    us, or it died (killed) and the system closed it."""
    pipe = os.dup(0)

    def watch() -> None:
        with os.fdopen(pipe, "rb") as refresh:
            refresh.read()
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    _serve(sys.argv[1], json.loads(sys.argv[2]))
