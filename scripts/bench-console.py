"""The web console's page loads in Debian's headless Chromium (issue 16), with the
browser's cache off so every load is a first load:

  * the networks page (HTML, stylesheet, htmx): bytes on the wire (compressed,
    headers included) and time to the load event;
  * the topology page of a tenant with 1,000 ENIs: time until the picture is
    painted (the load event, then two animation frames);

each against the same bytes saved to disk and served by Python's http.server (the
baseline: a static file server, no session, no API call, no template), loaded in
turns in the same browser. Prints JSON.

    python3 scripts/bench-console.py BASE TOKEN_SMALL TOKEN_1000 ROUNDS SHOT_DIR
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run",
                "--user-data-dir=" + tempfile.mkdtemp(prefix="cove-bench-console-")):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return d


def sign_in(d, base, token):
    d.get(base + "/console/sign-in")
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.CSS_SELECTOR, "form.panel button").click()
    time.sleep(0.3)


PAINTED = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  done({
    load_ms: nav.loadEventEnd,
    painted_ms: performance.now(),
    bytes: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
    html_bytes: nav.transferSize,
    resources: res.map(r => [r.name, r.transferSize]),
  });
}));
"""


def load(d, url):
    d.get(url)
    return d.execute_async_script(PAINTED)


def save_static(d, base, path, root):
    """The page at `path` as the browser got it, and its assets, under `root`."""
    d.get(base + path)
    html = "<!doctype html>\n" + d.execute_script("return document.documentElement.outerHTML")
    target = os.path.join(root, path.strip("/"), "index.html")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w") as f:
        f.write(html)
    for a in d.execute_script(
            "return [...document.querySelectorAll('link[rel=stylesheet],script[src]')]"
            ".map(e => e.getAttribute('href') || e.getAttribute('src'))"):
        out = os.path.join(root, a.lstrip("/"))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with urllib.request.urlopen(base + a) as r, open(out, "wb") as f:
            f.write(r.read())
    return path.rstrip("/") + "/index.html"


def main(base, small_token, big_token, rounds, shots):
    rounds = int(rounds)
    root = tempfile.mkdtemp(prefix="cove-bench-static-")
    d = browser()
    try:
        sign_in(d, base, small_token)
        d.get(base + "/console/topology")
        height = d.execute_script("return document.documentElement.scrollHeight")
        d.set_window_size(1280, int(height) + 40)
        os.makedirs(shots, exist_ok=True)
        d.save_screenshot(os.path.join(shots, "topology-50.png"))
        d.set_window_size(1280, 900)
        networks_static = save_static(d, base, "/console/networks", root)
        d.delete_all_cookies()
        sign_in(d, base, big_token)
        topo_static = save_static(d, base, "/console/topology", root)
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                   "127.0.0.1", "--directory", root],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        static = f"http://127.0.0.1:{port}"
        try:
            results = {}
            for name, token, path, spath in (
                    ("networks", small_token, "/console/networks", networks_static),
                    ("topology_1000", big_token, "/console/topology", topo_static)):
                d.delete_all_cookies()
                sign_in(d, base, token)
                cove_runs, static_runs = [], []
                for _ in range(rounds):
                    cove_runs.append(load(d, base + path))
                    static_runs.append(load(d, static + spath))
                med = lambda runs, k: statistics.median(r[k] for r in runs)
                results[name] = {
                    "bytes": med(cove_runs, "bytes"),
                    "html_bytes": med(cove_runs, "html_bytes"),
                    "load_ms": med(cove_runs, "load_ms"),
                    "painted_ms": med(cove_runs, "painted_ms"),
                    "static_bytes": med(static_runs, "bytes"),
                    "static_load_ms": med(static_runs, "load_ms"),
                    "static_painted_ms": med(static_runs, "painted_ms"),
                    "painted_ratio": statistics.median(
                        c["painted_ms"] / s["painted_ms"] for c, s in zip(cove_runs, static_runs)),
                    "resources": cove_runs[-1]["resources"],
                    "rounds": rounds,
                }
            print(json.dumps(results))
        finally:
            server.terminate()
    finally:
        d.quit()


if __name__ == "__main__":
    main(*sys.argv[1:6])
