"""Opens the closed-network example's page in headless Chromium (Debian's, driven by
Selenium through Debian's chromedriver; no download) and reports what it shows.

    python3 browser.py URL SCREENSHOT.png

Run it inside the desktop's network namespace. Prints one JSON object: the page's
title, the status line and its state (`ok` once the private API answered), the table's
rows and the detail line; saves a screenshot.
"""

import json
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main(url, shot):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="cove-chromium-")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,640", "--no-first-run", "--user-data-dir=" + profile):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.set_page_load_timeout(30)
        driver.get(url)
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-state") != "loading")
        status = driver.find_element(By.ID, "status")
        rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")]
        driver.save_screenshot(shot)
        print(json.dumps({
            "title": driver.title,
            "state": status.get_attribute("data-state"),
            "status": status.text,
            "rows": rows,
            "detail": driver.find_element(By.ID, "detail").text,
        }))
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
