"""Drives cove's web console in a real browser (Debian's headless Chromium through
Selenium and Debian's chromedriver) and checks what a tenant and the operator see.

    python3 browser.py CONFIG.json

CONFIG names the console's base URL, the tenants' and the operator's tokens, the
other tenant's VPC and account to peer with and its database's address, a function's
code directory, and where screenshots go. Each check raises AssertionError with what
was expected and what the page showed; the script prints one JSON line per step.
"""

import io
import json
import os
import sys
import tempfile
import time
import urllib.request
import zipfile

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

GUARD = 120  # seconds any wait may last before the test fails (not a timing goal)


def step(name, **facts):
    print(json.dumps({"step": name, **facts}), flush=True)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="cove-console-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--user-data-dir=" + profile):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.set_page_load_timeout(60)
    return d


def api(cfg, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(cfg["base"] + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


class Console:
    def __init__(self, cfg, who):
        self.cfg, self.who, self.d = cfg, who, browser()

    def go(self, path):
        self.d.get(self.cfg["base"] + path)
        return self

    def text(self, css="main"):
        return self.d.find_element(By.CSS_SELECTOR, css).text

    def shot(self, name):
        path = os.path.join(self.cfg["screenshots"], name + ".png")
        # The whole page: as tall as its content.
        height = self.d.execute_script("return document.documentElement.scrollHeight")
        self.d.set_window_size(1280, max(900, min(int(height) + 40, 4000)))
        self.d.save_screenshot(path)
        self.d.set_window_size(1280, 900)
        return path

    def fill(self, field, value):
        e = self.d.find_element(By.ID, field)
        if e.tag_name == "select":
            Select(e).select_by_value(value)
        else:
            e.clear()
            e.send_keys(value)

    def submit(self, form_css):
        self.d.find_element(By.CSS_SELECTOR, form_css + " button[type=submit]").click()
        self.settle()

    def settle(self):
        # htmx swaps the page in place: wait until the document is complete and no
        # request is in flight.
        WebDriverWait(self.d, GUARD).until(lambda d: d.execute_script(
            "return document.readyState === 'complete' && !document.querySelector('.htmx-request')"))
        time.sleep(0.2)

    def sign_in(self, token):
        self.go("/console/sign-in")
        self.fill("token", token)
        self.submit("form.panel")
        who = self.d.find_element(By.ID, "who").text
        step("signed in", who=who)
        return who

    def labels_ok(self):
        """Every visible form control has a label (a screen reader names it)."""
        missing = self.d.execute_script("""
            return [...document.querySelectorAll('input,select,textarea')]
              .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.outerHTML);""")
        assert not missing, f"controls without a label: {missing}"

    def contrast_ok(self):
        """Every text of the page has WCAG AA contrast against what is behind it
        (4.5:1, 3:1 for large text)."""
        bad = self.d.execute_script("""
            const lum = c => {
              const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
                v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
              return 0.2126 * r + 0.7152 * g + 0.0722 * b;
            };
            const alpha = c => { const m = c.match(/[\\d.]+/g); return m.length > 3 ? Number(m[3]) : 1; };
            const behind = e => {
              for (; e; e = e.parentElement) {
                const bg = getComputedStyle(e).backgroundColor;
                if (alpha(bg) > 0.5) return bg;
              }
              return 'rgb(255, 255, 255)';
            };
            const out = [];
            for (const e of document.querySelectorAll('body *')) {
              if (e.closest('svg') || !e.offsetParent) continue;
              if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
              const st = getComputedStyle(e);
              const a = lum(st.color), b = lum(behind(e));
              const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
              const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
              const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
              if (ratio < need) out.push(`${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
            }
            return out;""")
        assert not bad, f"text below WCAG AA contrast: {bad}"

    def keyboard_ok(self):
        """The first Tab reaches the skip link, and it leads to the content."""
        self.d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        first = self.d.switch_to.active_element
        assert first.get_attribute("class") == "skip", first.get_attribute("outerHTML")
        outline = self.d.execute_script(
            "return getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "the focused link shows no outline"

    def same_origin_only(self):
        """Nothing was fetched from anywhere but the console."""
        names = self.d.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        foreign = [n for n in names if not n.startswith(self.cfg["base"])]
        assert not foreign, f"external requests: {foreign}"

    def quit(self):
        self.d.quit()


def wait_text(c, path, want, css="main"):
    deadline = time.time() + GUARD
    while True:
        c.go(path)
        text = c.text(css)
        if want in text:
            return text
        assert time.time() < deadline, f"{path} never showed {want!r}; it shows:\n{text}"
        time.sleep(1)


def main(cfg_path):
    cfg = json.load(open(cfg_path))
    os.makedirs(cfg["screenshots"], exist_ok=True)
    alpha, bravo, op = Console(cfg, "alpha"), Console(cfg, "bravo"), Console(cfg, "operator")
    try:
        run(cfg, alpha, bravo, op)
    finally:
        for c in (alpha, bravo, op):
            c.quit()


def run(cfg, alpha, bravo, op):
    # --- Signing in: a bad token is refused, in words, on the field.
    alpha.go("/console/networks")
    assert alpha.d.current_url.endswith("/console/sign-in"), alpha.d.current_url
    alpha.fill("token", "cove_not-a-token")
    alpha.submit("form.panel")
    alert = alpha.text("#error")
    assert "refused" in alert and "token" in alert, alert
    alpha.labels_ok()
    alpha.contrast_ok()
    alpha.shot("sign-in")
    assert alpha.sign_in(cfg["alpha_token"]) == "alpha"
    cookie = next(c for c in alpha.d.get_cookies() if c["name"] == "cove_console")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict", cookie
    assert cfg["alpha_token"] not in json.dumps(alpha.d.get_cookies()), "the token reached the browser"
    step("session cookie", http_only=cookie["httpOnly"], secure=cookie["secure"],
         same_site=cookie["sameSite"])

    # --- Networks: a bad CIDR is refused on its field and the form keeps its values;
    # then the network is made and shows its static IP pair.
    alpha.go("/console/networks")
    alpha.labels_ok()
    alpha.keyboard_ok()
    alpha.fill("name", "web")
    alpha.fill("cidr", "10.30.0.0/8")
    alpha.submit("form.panel")
    alert = alpha.text("#error")
    assert "cidr" in alert, alert
    assert alpha.d.find_element(By.ID, "cidr").get_attribute("aria-invalid") == "true"
    assert alpha.d.find_element(By.ID, "name").get_attribute("value") == "web"
    alpha.fill("cidr", "10.30.0.0/16")
    alpha.submit("form.panel")
    assert "/console/networks/net-" in alpha.d.current_url, alpha.d.current_url
    net_id = alpha.d.current_url.rsplit("/", 1)[1]
    text = wait_text(alpha, f"/console/networks/{net_id}", "ready", "#status")
    ips = alpha.text("#static-ips").split(", ")
    api_net = api(cfg, "GET", f"/v1/connect/networks/{net_id}", cfg["alpha_token"])
    assert ips == api_net["static_ips"] and len(ips) == 2, (ips, api_net["static_ips"])
    gateways = alpha.text("#nat-gateways")
    for ip in ips:
        assert ip in gateways, gateways
    step("network created", id=net_id, static_ips=ips)
    alpha.contrast_ok()
    alpha.shot("network")
    alpha.go("/console/networks")
    assert "web" in alpha.text("#networks") and ips[0] in alpha.text("#networks")
    alpha.shot("networks")

    # (Set-up through the API, as a tenant's spec: two ENIs in the network, the
    # app's security group only lets HTTPS out.)
    api(cfg, "PUT", "/v1/spec", cfg["alpha_token"], {"vpcs": [{
        "name": "web",
        "flow_logs": [{"name": "all", "max_aggregation_interval": 1}],
        "security_groups": [{"name": "app", "egress": [
            {"protocol": "tcp", "ports": 443, "cidr": "0.0.0.0/0"}]}],
        "enis": [
            {"name": "app", "subnet": "private-a", "private_ip": "10.30.128.10",
             "security_groups": ["app"]},
            {"name": "worker", "subnet": "private-b", "private_ip": "10.30.192.10"}]}]})

    # --- Peerings: alpha asks for one to bravo's database network.
    alpha.go("/console/peerings")
    alpha.labels_ok()
    alpha.fill("peer_owner_id", cfg["bravo_account"])
    alpha.fill("peer_vpc_id", cfg["bravo_vpc"])
    alpha.submit("form.panel")
    notice = alpha.text("#notice")
    assert "pending-acceptance" in notice, notice
    pcx = notice.split()[1]
    step("peering requested", id=pcx)

    # --- Isolation: bravo sees none of alpha's things, and cannot open them.
    assert bravo.sign_in(cfg["bravo_token"]) == "bravo"
    bravo.go("/console/networks")
    mine = bravo.text("main")
    for secret in (net_id, "web", ips[0], ips[1], "10.30."):
        assert secret not in mine, f"bravo's networks page shows alpha's {secret!r}"
    bravo.go(f"/console/networks/{net_id}")
    assert "NotFound" in bravo.text("main"), bravo.text("main")
    bravo.go("/console/topology")
    topo = bravo.d.page_source
    for secret in (net_id, "10.30.128.10", ">app<", ">worker<"):
        assert secret not in topo, f"bravo's topology shows alpha's {secret!r}"
    step("isolated", checked=["networks", "network page", "topology"])

    # --- bravo accepts the request.
    bravo.go("/console/peerings")
    incoming = bravo.text("#incoming")
    assert pcx in incoming, incoming
    bravo.contrast_ok()
    bravo.shot("peerings-pending")
    bravo.d.find_element(By.CSS_SELECTOR, f"button[aria-label='Accept peering {pcx}']").click()
    bravo.settle()
    text = wait_text(bravo, "/console/peerings", "active", "#peerings")
    assert pcx in text, text
    step("peering accepted", id=pcx)
    bravo.shot("peerings")
    wait_text(alpha, "/console/peerings", "active", "#peerings")

    # --- A second network: its peering request rejected by bravo, then deleted.
    alpha.go("/console/networks")
    alpha.fill("name", "tmp")
    alpha.fill("cidr", "10.31.0.0/16")
    alpha.submit("form.panel")
    tmp_id = alpha.d.current_url.rsplit("/", 1)[1]
    assert tmp_id.startswith("net-") and tmp_id != net_id, alpha.d.current_url
    wait_text(alpha, f"/console/networks/{tmp_id}", "ready", "#status")
    tmp_vpc = api(cfg, "GET", f"/v1/connect/networks/{tmp_id}", cfg["alpha_token"])["vpc_id"]
    alpha.go("/console/peerings")
    alpha.fill("vpc_id", tmp_vpc)
    alpha.fill("peer_owner_id", cfg["bravo_account"])
    alpha.fill("peer_vpc_id", cfg["bravo_vpc"])
    alpha.submit("form.panel")
    pcx2 = alpha.text("#notice").split()[1]
    bravo.go("/console/peerings")
    bravo.d.find_element(By.CSS_SELECTOR, f"button[aria-label='Reject peering {pcx2}']").click()
    bravo.settle()
    assert pcx2 not in bravo.text("#incoming") if bravo.d.find_elements(By.ID, "incoming") else True
    text = wait_text(alpha, "/console/peerings", "rejected", "#peerings")
    assert pcx2 in text, text
    alpha.go("/console/networks")
    alpha.d.find_element(By.CSS_SELECTOR, "button[aria-label='Delete network tmp']").click()
    alpha.settle()
    deadline = time.time() + GUARD
    while True:
        alpha.go("/console/networks")
        if tmp_id not in alpha.text("main"):
            break
        assert time.time() < deadline, alpha.text("main")
        time.sleep(1)
    step("rejected and deleted", peering=pcx2, network=tmp_id)

    # --- Topology: alpha's network with its ENIs, NAT pair and the peering.
    alpha.go("/console/topology")
    svg = alpha.d.find_element(By.CSS_SELECTOR, "#picture svg")
    keys = [g.get_attribute("data-key") for g in svg.find_elements(By.CSS_SELECTOR, "g")]
    for want in (net_id, f"{net_id}/app", f"{net_id}/worker", f"peer:{cfg['bravo_vpc']}"):
        assert want in keys, f"{want} not drawn: {keys}"
    assert svg.find_elements(By.CSS_SELECTOR, "path.edge.peering"), "no peering line"
    assert len(svg.find_elements(By.CSS_SELECTOR, "g.nat")) == 2, "the NAT pair is not drawn"
    alpha.shot("topology")

    # --- Reachability: the app cannot reach bravo's database; the page names the
    # blocking hop and draws it.
    alpha.go("/console/reachability")
    alpha.labels_ok()
    alpha.fill("from", "web/app")
    alpha.fill("to", cfg["bravo_db"])
    alpha.fill("port", "5432")
    alpha.submit("form.panel")
    assert alpha.text("#verdict") == "BLOCKED", alpha.text("#result")
    blocked = alpha.text("#blocked-at")
    assert "security-group-egress" in blocked and "/app" in blocked, blocked
    marked = [g.get_attribute("data-key") for g in
              alpha.d.find_elements(By.CSS_SELECTOR, "#picture g.blocked")]
    assert marked == [f"{net_id}/app"], marked
    assert alpha.d.find_elements(By.CSS_SELECTOR, "#picture path.flow.blocked"), "no flow drawn"
    alpha.contrast_ok()
    step("reachability", verdict="BLOCKED", at=blocked)
    alpha.shot("reachability")
    # A source that is not the tenant's is refused on its field.
    alpha.go("/console/reachability?from=" + cfg["bravo_db"] + "&to=web%2Fapp&protocol=tcp&port=80")
    assert "from" in alpha.text("#error"), alpha.text("main")

    # --- Functions: deploy a zip, wait until Active, invoke, read metrics and logs.
    zpath = os.path.join(tempfile.mkdtemp(prefix="cove-console-fn-"), "hello.zip")
    with zipfile.ZipFile(zpath, "w") as z:
        for name in os.listdir(cfg["code_dir"]):
            z.write(os.path.join(cfg["code_dir"], name), name)
    alpha.go("/console/functions")
    alpha.labels_ok()
    # Without a zip: refused on the code field, the form keeps its values.
    alpha.fill("name", cfg["function"])
    alpha.fill("handler", "handler.handler")
    alpha.submit("form.panel")
    assert "code" in alpha.text("#error"), alpha.text("main")
    assert alpha.d.find_element(By.ID, "handler").get_attribute("value") == "handler.handler"
    alpha.fill("name", cfg["function"])
    alpha.fill("handler", "handler.handler")
    alpha.fill("timeout", "10")
    alpha.d.find_element(By.ID, "code").send_keys(zpath)
    alpha.submit("form.panel")
    assert alpha.d.current_url.endswith("/console/functions/" + cfg["function"]), (
        alpha.d.current_url, alpha.text("main"))
    wait_text(alpha, f"/console/functions/{cfg['function']}", "Active", "#state")
    alpha.fill("payload", '{"op": "echo", "hello": "console"}')
    alpha.submit("form.panel")
    answer = alpha.text("#answer")
    assert "console" in answer, answer
    alpha.contrast_ok()
    alpha.shot("function")
    text = wait_text(alpha, f"/console/functions/{cfg['function']}", "Invocations", "#metrics")
    assert "Invocations\n1" in text or "Invocations 1" in text, text
    logs = alpha.text("#logs")
    assert "REPORT" in logs or "START" in logs, logs
    step("function", answer=answer[:80])
    # bravo cannot see or run it.
    bravo.go("/console/functions")
    assert cfg["function"] not in bravo.text("main"), bravo.text("main")
    bravo.go(f"/console/functions/{cfg['function']}")
    assert "NotFound" in bravo.text("main"), bravo.text("main")
    alpha.go("/console/functions")
    alpha.shot("functions")

    # --- Flow logs: the function connects to the worker; its records, filtered by
    # the worker's address, are on the page; a bad address is refused on its field.
    alpha.go(f"/console/functions/{cfg['function']}")
    alpha.fill("payload", '{"op": "connect", "host": "10.30.192.10", "port": 5432, "timeout_ms": 2000}')
    alpha.submit("form.panel")
    assert "refused" in alpha.text("#answer"), alpha.text("main")
    alpha.go("/console/flow-logs")
    alpha.labels_ok()
    assert "record(s)" in alpha.text("#count"), alpha.text("main")
    records = wait_text(alpha, "/console/flow-logs?addr=10.30.192.10&log=web%2Fall", "5432", "main")
    rows = alpha.d.find_elements(By.CSS_SELECTOR, "#records tbody tr")
    assert rows and all("10.30.192.10" in r.text and "web/all" in r.text for r in rows), records
    alpha.contrast_ok()
    alpha.shot("flow-logs")
    step("flow logs", records=len(rows))
    alpha.go("/console/flow-logs?action=REJECT&addr=10.30.192.10")
    assert "0 record(s)" in alpha.text("#count") or all(
        "REJECT" in r.text for r in alpha.d.find_elements(By.CSS_SELECTOR, "#records tbody tr"))
    alpha.go("/console/flow-logs?addr=not-an-address")
    assert "addr" in alpha.text("#error"), alpha.text("main")

    # --- The operator: tenants and the host's health; a tenant cannot see it.
    assert op.sign_in(cfg["admin_token"]) == "operator"
    assert op.d.current_url.endswith("/console/operator"), op.d.current_url
    tenants = op.text("#tenants")
    assert "alpha" in tenants and "bravo" in tenants, tenants
    health = op.text("#health-status")
    assert health == "ok", op.text("#health")
    assert "in-sync" in op.text("#health"), op.text("#health")
    op.contrast_ok()
    op.shot("operator")
    alpha.go("/console/operator")
    assert alpha.d.current_url.endswith("/console/networks"), alpha.d.current_url
    step("operator", tenants=tenants.count("\n"), health=health)

    # --- Nothing came from outside; signing out ends the session.
    for c in (alpha, bravo, op):
        c.same_origin_only()
    alpha.d.find_element(By.CSS_SELECTOR, "header form button").click()
    alpha.settle()
    alpha.go("/console/networks")
    assert alpha.d.current_url.endswith("/console/sign-in"), alpha.d.current_url
    step("signed out")


if __name__ == "__main__":
    main(sys.argv[1])
