"""The demo notebook in a real JupyterLab and a real Chromium: run it, move a slider, read the new parameter count.

The server runs on 127.0.0.1 with a random token and a free port, serving the repository; it opens a copy of
``notebooks/00_widgets_demo.ipynb`` under ``artifacts/browser/`` (gitignored) so that the committed notebook is never
touched. Chromium is Debian's (``/usr/bin/chromium``, or ``$CHROMIUM``): Playwright's own download is not used.
The screenshot lands in ``artifacts/browser_widgets.png`` (``..._failure.png`` when the test fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

import toolkit
from toolkit._keras import keras

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "notebooks" / "00_widgets_demo.ipynb"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# JupyterLab settings for this run only: no news pop-up, no kernel-choice dialog, no autosave, all cells drawn.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",  # render every cell, so off-screen widgets are in the page to read
    },
}
SERVER_START_S, RUN_ALL_S, REBUILD_S = 120, 240, 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_function(notebook: nbformat.NotebookNode, name: str) -> Any:
    """The notebook's own ``def name(...)`` cell, executed here: the test checks the page against the same code."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith(f"def {name}("):
            namespace: dict[str, Any] = {"keras": keras}
            exec(cell.source, namespace)
            return namespace[name]
    raise AssertionError(f"{DEMO.name} has no cell starting with `def {name}(`")


def api(base: str, token: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        body = reply.read()
    return json.loads(body) if body else None


def wait_for_kernel(base: str, token: str, timeout: float = SERVER_START_S) -> None:
    """Until the notebook's kernel is up, idle and connected to the page (asked through the REST API)."""
    deadline, ready_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            kernels = api(base, token, "/api/kernels")
        except urllib.error.HTTPError:  # the kernel list can fail while a kernel is being replaced
            kernels = []
        ready = len(kernels) == 1 and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"] > 0
        ready_since = (ready_since or time.monotonic()) if ready else None
        if ready_since is not None and time.monotonic() - ready_since > 2:  # stable: no restart under way
            return
        time.sleep(0.25)
    pytest.fail(f"the notebook's kernel was not ready within {timeout:g} s: {api(base, token, '/api/kernels')}")


@pytest.fixture
def lab(data_dir: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server for this test: (base url, token). Shut down (kernels included) afterwards."""
    settings = tmp_path / "lab-settings"
    for rel, value in LAB_SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    env = {  # a fresh data folder: no notebook signatures, so every notebook is untrusted, as in a fresh clone
        **os.environ,
        "KERAS_COURSE_DATA": str(data_dir),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={REPO}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
    ]
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                api(base, token, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not start within {SERVER_START_S} s; its log:\n"
                        f"{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield base, token
    finally:
        try:
            api(base, token, "/api/shutdown", method="POST")  # stops the kernels too
            server.wait(timeout=30)
        except Exception:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()


def test_demo_notebook_slider_changes_the_parameter_count(lab: tuple[str, str]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (Debian: apt-get install chromium) or set "
            f"$CHROMIUM to its path; deselect this test with -m 'not browser'."
        )
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[dev]' (its browser download is not needed).")
    base, token = lab
    notebook = nbformat.read(DEMO, as_version=4)
    build_mlp = build_function(notebook, "build_mlp")
    for cell in notebook.cells:  # start from a clean copy: no stale widget views
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    copy = ARTIFACTS / "browser" / DEMO.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, copy)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            url = f"{base}/lab/tree/{copy.relative_to(REPO).as_posix()}?token={token}"
            _drive(page, sync_api.expect, url, build_mlp, lambda: wait_for_kernel(base, token))
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "browser_widgets_failure.png"))
            raise
        finally:
            browser.close()
    shutil.rmtree(copy.parent, ignore_errors=True)


def _drive(page: Any, expect: Any, url: str, build_mlp: Any, kernel_ready: Any) -> None:
    page.set_default_timeout(RUN_ALL_S * 1000)
    page.goto(url)
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    kernel_ready()
    code_cells = page.locator(".jp-Notebook .jp-CodeCell").count()
    first_prompt = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").first
    for attempt in range(2):  # a click that lands while the kernel connection settles is retried once
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        try:
            expect(first_prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=30_000)
            break
        except AssertionError:
            if attempt:
                raise
    page.wait_for_function(  # every code cell has an execution count: all ran (none queued or running)
        """n => {
            const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
            return prompts.length === n && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        arg=code_cells,
        timeout=RUN_ALL_S * 1000,
    )
    tracebacks = page.locator(".jp-OutputArea-output", has_text=re.compile(r"Traceback \(most recent call last\)"))
    assert tracebacks.count() == 0, tracebacks.first.inner_text()  # every cell ran without an exception
    tuner = page.locator(".widget-vbox").first  # the first panel in the notebook: LayerTuner(build_mlp, ...)
    total = tuner.locator(".widget-output .toolkit-total-params")
    tuner.scroll_into_view_if_needed()
    expect(total).to_be_visible()
    readouts = tuner.locator(".widget-readout")
    units, depth = _int(readouts.nth(0).inner_text()), _int(readouts.nth(1).inner_text())
    before = total.inner_text()
    assert _int(before) == toolkit.summary(build_mlp(units=units, depth=depth)).total_params
    handle = tuner.locator(".noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")  # one step (8 units) to the right, as a learner would with the keyboard
    expect(total).not_to_have_text(before, timeout=REBUILD_S * 1000)
    new_units = _int(readouts.nth(0).inner_text())
    assert new_units == units + 8
    assert _int(total.inner_text()) == toolkit.summary(build_mlp(units=new_units, depth=depth)).total_params
    tuner.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "browser_widgets.png"))


def _int(text: str) -> int:
    return int(text.replace(",", "").strip())


LESSONS = sorted([*(REPO / "notebooks").glob("0*.ipynb"), *(REPO / "notebooks" / "zh").glob("0*.ipynb")])


def _pictures(notebook: nbformat.NotebookNode) -> int:
    """Stored outputs that must show a picture: a PNG or SVG (a diagram, a plot), HTML with an <img> or <svg> (a
    panel's copy). Untrusted, an SVG-only output or an HTML <svg> is dropped: such a notebook fails the count."""
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            html = data.get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            count += "image/png" in data or "image/svg+xml" in data or "<img" in html or "<svg" in html
    return count


# The stored outputs are the reference run's; the matrix's entries would open the same files again (a minute each)
@pytest.mark.reference
def test_every_stored_picture_is_drawn_in_a_lesson_opened_without_running_it(lab: tuple[str, str]) -> None:
    """Issue 25: open each lesson of both editions as a fresh clone has it (untrusted, no cell run) and count the
    pictures JupyterLab really draws; a screenshot of each lands in artifacts/untrusted/."""
    from playwright import sync_api

    base, token = lab
    shots = ARTIFACTS / "untrusted"
    shots.mkdir(parents=True, exist_ok=True)
    missing = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(SERVER_START_S * 1000)
        try:
            for path in LESSONS:
                expected = _pictures(nbformat.read(path, as_version=4))
                copy = ARTIFACTS / "browser" / "untrusted" / path.relative_to(REPO)  # lab writes checkpoints beside it
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, copy)
                # a workspace of its own (?reset): only this notebook is open, so the page shows it and nothing else
                page.goto(f"{base}/lab/tree/{copy.relative_to(REPO).as_posix()}?reset&token={token}")
                page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first.wait_for()
                drawn_js = """() => [...document.querySelectorAll(
                    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img')]
                    .filter(i => i.complete && i.naturalWidth > 0).length"""
                with contextlib.suppress(sync_api.TimeoutError):  # reported below, with the count
                    page.wait_for_function(f"n => ({drawn_js})() >= n", arg=expected, timeout=60_000)
                drawn = page.evaluate(drawn_js)
                fallbacks = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output",
                                         has_text=re.compile(r"<Diagram of '")).count()
                name = f"{path.parent.name}_{path.stem}" if path.parent.name == "zh" else path.stem
                page.screenshot(path=str(shots / f"{name}.png"))
                if drawn < expected or fallbacks:
                    missing.append(f"{path.relative_to(REPO)}: {drawn} of {expected} pictures drawn, "
                                   f"{fallbacks} diagrams shown as text")
        finally:
            browser.close()
            shutil.rmtree(ARTIFACTS / "browser" / "untrusted", ignore_errors=True)
    assert not missing, "\n".join(missing)
