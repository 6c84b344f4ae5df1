"""No network, no stray files: a whole search (codecarbon's tracker included), its reports and
its model, with every network call refused, write nothing but the files asked for.

The search runs in a fresh interpreter whose home and working directory are empty folders of
this test. Sockets are patched to raise, and an audit hook (PEP 578) refuses any connection
or name lookup and records every file the process opens for writing, every folder it makes,
renames or removes. Afterwards: no network call was attempted, nothing was written under the
working directory, ``/tmp`` or the home directory except the outputs, and both folders hold
exactly what they held before (the outputs aside).

Two writes by dependencies are allowed, and only these: a file the standard library creates
and removes at once in ``/tmp`` to find the temporary folder (``tempfile.gettempdir``, called
when codecarbon is imported; nothing is left), and matplotlib's per-user font cache
(``~/.cache/matplotlib/fontlist-*.json`` and its lock, with an empty ``~/.config/matplotlib``),
which matplotlib writes once per machine when the HTML report's plot is first drawn.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json, os, socket, sys

    OUT = sys.argv[1]
    network, written = [], []
    NET = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg", "urllib.Request")
    WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args):
        if event in NET:
            network.append(f"{event} {args!r:.200}")
            raise ConnectionRefusedError(f"no network in this test: {event}")
        if event == "open":
            path, mode, flags = args
            writes = (mode and any(c in str(mode) for c in "wax+")) or (flags or 0) & WRITE
            if writes and isinstance(path, (str, bytes, os.PathLike)):
                written.append(os.path.abspath(os.fsdecode(path)))
        elif event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir",
                       "shutil.rmtree", "os.symlink", "os.link", "os.truncate"):
            if isinstance(args[0], (str, bytes, os.PathLike)):
                written.append(os.path.abspath(os.fsdecode(args[0])))

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no network in this test")

    for name in ("connect", "connect_ex", "sendto"):
        setattr(socket.socket, name, refuse)
    socket.create_connection = socket.getaddrinfo = refuse
    sys.addaudithook(hook)

    import warnings
    from greenauto import GreenAutoClassifier, save_model
    from greenauto.datasets import load_dataset

    X, y = load_dataset("penguins")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = GreenAutoClassifier(time_budget=None, n_trials=6, random_state=0,
                                   country_iso_code="FRA").fit(X, y)
    for suffix in ("html", "json", "csv", "md"):
        auto.export_report(os.path.join(OUT, "report." + suffix))
    save_model(auto, os.path.join(OUT, "model.gam"))
    print(json.dumps({"network": network, "written": written,
                      "co2": auto.search_emissions_.grams_co2eq}))
    """
)


MATPLOTLIB_CACHE = re.compile(
    r"^\.(cache|config)(/matplotlib(/fontlist-v[\d.]+\.json(\.matplotlib-lock)?)?)?$"
)


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_fit_and_reports_use_no_network_and_write_only_the_outputs(tmp_path):
    home, cwd, out = tmp_path / "home", tmp_path / "cwd", tmp_path / "out"
    for folder in (home, cwd, out):
        folder.mkdir()
    (home / ".keep").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MPLCONFIGDIR"))}
    env |= {"HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    before = {"home": snapshot(home), "cwd": snapshot(cwd)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["network"] == []
    assert found["co2"] > 0  # codecarbon's offline tracker did run
    tmp = Path(tempfile.gettempdir()).resolve()
    watched = (cwd.resolve(), home.resolve(), tmp, Path("/tmp").resolve())
    events = [(p, Path(p).resolve()) for p in found["written"]]
    stray = sorted(
        {
            p
            for p, r in events
            if not r.is_relative_to(out.resolve())
            and any(r.is_relative_to(w) for w in watched)
            and not (r.is_relative_to(home.resolve())
                     and MATPLOTLIB_CACHE.match(str(r.relative_to(home.resolve()))))
            and r.exists()  # created and removed at once (tempfile's probe): nothing left
        }
    )  # fmt: skip
    assert stray == [], stray
    left_in_home = snapshot(home) - before["home"]
    assert all(MATPLOTLIB_CACHE.match(p) for p in left_in_home), left_in_home
    assert snapshot(cwd) == before["cwd"]
    assert sorted(snapshot(out)) == [
        "model.gam", "report.csv", "report.html", "report.json", "report.md"
    ]  # fmt: skip
