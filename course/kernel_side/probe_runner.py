"""Run a student's class and function definitions on probe inputs, in a fresh sandboxed process; write back arrays.

The grader copies this file and kernel_launcher.py (its limits) into the sandbox's ``lib`` folder (it imports
nothing from ``course``) and runs

    python probe_runner.py --memory-mb N --cpu-s N --file-mb N < request.json

where the request is ``{"definitions": [statement, ...], "probes": {check id: source}, "seed": int, "out": folder}``.
Hard limits are set before any student code runs. The definitions run once, one statement at a time;
each probe cell's source then runs in a copy of their namespace and its ``probe(rng)`` is called (``rng``: NumPy,
from the seed); the dict it returns is written to ``<out>/<check id>/``: arrays as ``.npy``, everything else as
``values.json``; a probe that raised writes ``error.txt``. Nothing this process writes is trusted for more than
data: course/verification/class_probes.py compares it, in the trusted process, with the reference implementation's
answers to
the same probe.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from kernel_launcher import _limit  # copied beside this file, as in a kernel's sandbox


def _write(folder: Path, out: dict[str, Any]) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {}
    for key, value in out.items():
        if isinstance(value, np.ndarray):
            np.save(folder / f"{key}.npy", value, allow_pickle=False)
        else:
            values[key] = value
    (folder / "values.json").write_text(json.dumps(values, default=str))


def main() -> None:
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    _limit(args.get("--memory-mb"), args.get("--cpu-s"), file_mb=args.get("--file-mb"))
    request = json.loads(sys.stdin.readline())
    out_dir = Path(request["out"])
    sys.modules["course"] = None  # type: ignore[assignment]
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import numpy as np

    namespace: dict[str, Any] = {"__name__": "__main__"}
    for statement in request["definitions"]:  # one by one, as course/verification/class_probes.py does
        try:
            exec(compile(statement, "<your definitions>", "exec"), namespace)  # noqa: S102
        except Exception:  # noqa: BLE001, S112  (a name it failed to define makes its probe fail, by name)
            continue
    for check, source in request["probes"].items():
        scope = dict(namespace)
        try:
            exec(compile(source, f"<probe {check}>", "exec"), scope)  # noqa: S102  (the instructor's probe)
            out = scope["probe"](np.random.default_rng(request["seed"]))
            if not isinstance(out, dict):
                raise TypeError(f"probe(rng) returned {type(out).__name__}, not a dict")
            _write(out_dir / check, out)
        except BaseException as err:  # noqa: BLE001
            (out_dir / check).mkdir(parents=True, exist_ok=True)
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            (out_dir / check / "error.txt").write_text(last[:500])


if __name__ == "__main__":
    main()
