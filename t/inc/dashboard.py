#!/usr/bin/python3
#
# The fib_status dashboard in a real browser, for t/dashboard.t:
# Debian's chromium, headless, driven by its chromium-driver through
# python3-selenium.  It opens the page as a browser asks for it (no
# ?format=), reads what the page shows, makes requests to the fib
# locations, waits until the page shows them, and prints what it saw
# as one JSON object on stdout: the .t file asserts, this only looks.
#
#   dashboard.py BASE EMPTY_BASE OUT_DIR
#
# BASE: an nginx with fib locations and fib_status at /fib_status;
# EMPTY_BASE: one with fib_status alone (no fib location, no pool).
# Screenshots go to OUT_DIR (desktop.png, phone.png, empty.png).
# DRIVER_PORT and DEVTOOLS_PORT, when set, are the ports of 127.0.0.1
# that chromedriver and the browser listen on (else the kernel's).

import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

# a wait for what the page must come to show: far longer than the one
# second poll it takes on a quiet machine, so that a busy one passes
DEADLINE = 60

base, empty_base, out = sys.argv[1:4]


def browser():
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    options.add_argument("--headless=new")
    options.add_argument("--window-size=1280,900")
    options.add_argument("--disable-gpu")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument("--no-first-run")
    options.add_argument("--hide-scrollbars")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    if os.environ.get("DEVTOOLS_PORT"):
        options.add_argument("--remote-debugging-address=127.0.0.1")
        options.add_argument("--remote-debugging-port="
                             + os.environ["DEVTOOLS_PORT"])
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER",
                                     "/usr/bin/chromedriver"),
                      port=int(os.environ.get("DRIVER_PORT") or 0))
    return webdriver.Chrome(service=service, options=options)


def viewport(driver, width, height):
    """the page's own size, whatever the window's frame takes"""
    driver.set_window_size(width, height)
    dw, dh = driver.execute_script(
        "return [window.outerWidth - window.innerWidth,"
        " window.outerHeight - window.innerHeight];")
    if dw or dh:
        driver.set_window_size(width + dw, height + dh)


def text(driver, element_id):
    return driver.execute_script(
        "var e = document.getElementById(arguments[0]);"
        "return e ? e.textContent : null;", element_id)


def cells(driver, row_id):
    return driver.execute_script(
        "var r = document.getElementById(arguments[0]);"
        "return r ? Array.prototype.map.call(r.cells,"
        " function (c) { return c.textContent; }) : null;", row_id)


def polls(driver):
    return int(driver.execute_script(
        "return document.body.getAttribute('data-polls') || '0';"))


def wait(driver, what, deadline=DEADLINE):
    end = time.time() + deadline
    while time.time() < end:
        if what():
            return True
        time.sleep(0.1)
    return False


def wait_polls(driver, n):
    """until the page has shown n more answers than now"""
    start = polls(driver)
    return wait(driver, lambda: polls(driver) >= start + n)


def view(driver):
    """what the page shows now, by its stable ids"""
    seen = {i: text(driver, i) for i in (
        "state", "version", "nginx", "workers", "rate-total",
        "requests-total", "in-flight", "capacity", "pools", "waiting",
        "waiting-limit", "memory", "memory-limit", "compute-count",
        "compute-mean", "queue-count", "queue-mean", "abandoned")}
    seen["outcomes"] = {
        k: cells(driver, "outcome-" + k)
        for k in ("ok", "not_modified", "bad_request", "overloaded",
                  "timed_out", "cancelled", "filtered", "error")}
    seen["locations"] = driver.execute_script(
        "return Array.prototype.map.call("
        " document.querySelectorAll('#locations-body tr'),"
        " function (r) { return Array.prototype.map.call(r.cells,"
        "  function (c) { return c.textContent; }); });")
    seen["bars"] = {
        h: driver.execute_script(
            "return document.querySelectorAll('#' + arguments[0]"
            " + ' rect').length;", h)
        for h in ("compute-chart", "queue-chart")}
    seen["polls"] = polls(driver)
    seen["overflow"] = driver.execute_script(
        "return document.documentElement.scrollWidth"
        " - document.documentElement.clientWidth;")
    return seen


def ask(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def console(driver):
    return [{"level": e["level"], "message": e["message"]}
            for e in driver.get_log("browser")]


result = {}
driver = browser()

try:
    # the page as a browser asks for it: its own Accept, no ?format=
    viewport(driver, 1280, 900)
    driver.get(base + "/fib_status")
    result["content_type"] = driver.execute_script(
        "return document.contentType;")
    result["first_poll"] = wait_polls(driver, 1)
    result["before"] = view(driver)

    # the maximum the page shows as requests a second, at any moment
    driver.execute_script(
        "window.fibMaxRate = 0;"
        "new MutationObserver(function () {"
        "  var v = parseFloat(document.getElementById('rate-total')"
        "                     .textContent);"
        "  if (v > window.fibMaxRate) { window.fibMaxRate = v; }"
        "}).observe(document.getElementById('rate-total'),"
        "           { childList: true, characterData: true,"
        "             subtree: true });")

    result["asked"] = [ask(base + "/fib?num=20") for _ in range(5)]
    result["asked"].append(ask(base + "/fib?num=30"))
    result["asked"].append(ask(base + "/fib?num=x"))
    result["asked"].append(ask(base + "/fast?num=1000"))

    before = result["before"]["outcomes"]

    def shown():
        o = view(driver)["outcomes"]
        return (o["ok"] and o["bad_request"]
                and int(o["ok"][2]) >= int(before["ok"][2]) + 7
                and int(o["bad_request"][2])
                    >= int(before["bad_request"][2]) + 1)

    result["changed"] = wait(driver, shown)
    # the README's picture: the requests a second of this answer
    driver.save_screenshot(os.path.join(out, "desktop.png"))
    # one more answer: the page has settled on these values
    wait_polls(driver, 1)
    result["after"] = view(driver)
    result["max_rate"] = driver.execute_script("return window.fibMaxRate;")
    result["json_after"] = json.loads(urllib.request.urlopen(
        base + "/fib_status?format=json", timeout=30).read())

    # a phone: the page reflows, nothing wider than the screen (a
    # window cannot be narrower than 500: the phone is emulated)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 390, "height": 844, "deviceScaleFactor": 1,
        "mobile": True})
    wait_polls(driver, 2)
    result["phone"] = view(driver)
    result["phone_width"] = driver.execute_script(
        "return document.documentElement.clientWidth;")
    driver.save_screenshot(os.path.join(out, "phone.png"))

    # read before the next page: its log starts anew
    result["console"] = console(driver)

    # an nginx without fib locations or pools: zeros and empty lists
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get(empty_base + "/fib_status?format=html")
    result["empty_first_poll"] = wait_polls(driver, 2)
    result["empty"] = view(driver)
    driver.save_screenshot(os.path.join(out, "empty.png"))

    result["console"] += console(driver)

finally:
    driver.quit()

print(json.dumps(result))
