"""Headless Chromium for the report tests (moved here from spatialembed.report): a screenshot
of an HTML file, and its DOM after the page's scripts ran. Also usable from the command line:
``python tests/python/chromium.py report.html report.png``."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Software WebGL (SwiftShader) for plotly's 3-D scenes without a GPU.
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--enable-unsafe-swiftshader",
          "--hide-scrollbars", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
          "--force-device-scale-factor=1"]


def chromium_binary(executable=None):
    """The browser binary; raises RuntimeError when it is not installed."""
    binary = executable or shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary or (executable and not shutil.which(executable)):
        raise RuntimeError(f"Chromium not found ({executable or 'chromium, chromium-browser'} not on PATH); "
                           "install it with `apt-get install chromium`")
    return binary


def _run(html_path, extra, timeout, executable):
    html_path = Path(os.fspath(html_path)).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"{html_path} not found")
    binary = chromium_binary(executable)
    with tempfile.TemporaryDirectory(prefix="spatialembed-chromium-") as profile:
        command = [binary, *_FLAGS, f"--user-data-dir={profile}", *extra, html_path.as_uri()]
        try:
            return subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=timeout, env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Chromium did not finish rendering {html_path} within {timeout} s") from None
        except OSError as error:
            raise RuntimeError(f"could not run Chromium ({binary}): {error}") from None


def render_screenshot(html_path, png_path, *, width=1400, height=2000, timeout=120, executable=None):
    """Render an HTML file to a PNG of ``width`` × ``height`` pixels (the top of the page) with
    headless Chromium and a throw-away profile. Raises FileNotFoundError for a missing page,
    RuntimeError when Chromium is missing, fails, times out or writes no screenshot."""
    png_path = Path(os.fspath(png_path)).resolve()
    if int(width) < 1 or int(height) < 1:
        raise ValueError(f"width and height must be >= 1, got {width} x {height}")
    if png_path.exists():
        png_path.unlink()
    run = _run(html_path, [f"--window-size={int(width)},{int(height)}", f"--screenshot={png_path}"], timeout,
               executable)
    if run.returncode != 0 or not png_path.is_file() or png_path.stat().st_size == 0:
        tail = (run.stderr or b"").decode(errors="replace").strip().splitlines()[-8:]
        raise RuntimeError(f"Chromium failed to render {html_path} (exit status {run.returncode}, "
                           f"screenshot {'missing' if not png_path.is_file() else 'empty'}): " + " | ".join(tail))
    return png_path


def dump_dom(html_path, *, width=1400, height=2000, timeout=120, executable=None, budget_ms=3000):
    """The page's DOM (serialized HTML) after its scripts ran (``--dump-dom``), waiting
    ``budget_ms`` of virtual time for timers."""
    run = _run(html_path, [f"--window-size={int(width)},{int(height)}", f"--virtual-time-budget={int(budget_ms)}",
                           "--dump-dom"], timeout, executable)
    if run.returncode != 0 or not run.stdout:
        tail = (run.stderr or b"").decode(errors="replace").strip().splitlines()[-8:]
        raise RuntimeError(f"Chromium failed to load {html_path} (exit status {run.returncode}): " + " | ".join(tail))
    return run.stdout.decode("utf-8", errors="replace")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: chromium.py REPORT.html SCREENSHOT.png")
    print(render_screenshot(sys.argv[1], sys.argv[2]))
