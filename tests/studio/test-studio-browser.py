#!/usr/bin/env python3
# The studio page in Debian's headless Chromium, driven by chromium-driver
# through python3-selenium (TAP): load the page, fill a two-speaker script
# with a pause, press Generate, see audio bytes arrive while the job still
# runs, the waveform, the per-utterance RTF and the download; a bad script
# shows the parser's line-numbered message. Saves a screenshot of the page
# after the generation ($VV_STUDIO_SCREENSHOT; docs/studio.png is one).
# Skips (77) where Chromium, its driver or selenium is absent.
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from studio_server import Server, Tap  # noqa: E402

CHROMIUM = os.environ.get("VV_STUDIO_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("VV_STUDIO_CHROMEDRIVER", "/usr/bin/chromedriver")


def skip(why):
    print("1..0 # SKIP " + why, flush=True)
    sys.exit(77)


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:
    skip("python3-selenium is not installed (%s)" % e)
for path, pkg in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        skip("%s is absent (Debian package %s)" % (path, pkg))

EX = os.environ["VV_EXAMPLES_DIR"]
SHOT = os.environ.get("VV_STUDIO_SCREENSHOT", "studio.png")
t = Tap()
srv = Server()
driver = None
try:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1100",
              "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    wait = WebDriverWait(driver, 60)

    driver.get(srv.url)
    wait.until(lambda d: "voices" in d.find_element(By.ID, "info").text)
    t.ok("2 voices" in driver.find_element(By.ID, "info").text,
         "the page loads and lists the 2 example voices", driver.find_element(By.ID, "info").text)
    rows = driver.find_elements(By.CSS_SELECTOR, ".speaker")
    t.ok(len(rows) == 4, "four speaker rows", len(rows))

    # two speakers, each its voice; the script typed in, the pause from its button
    for row, voice in zip(rows[:2], ("voice-a", "voice-b")):
        Select(row.find_element(By.CSS_SELECTOR, ".voice select")).select_by_value(voice)
    ta = driver.find_element(By.ID, "script")
    ta.clear()
    ta.send_keys("Speaker 1: Welcome back to the show. Today we're talking about streaming "
                 "speech synthesis.\nSpeaker 2: Thanks for having me! It's a topic I could talk "
                 "about for hours.")
    driver.find_element(By.CSS_SELECTOR, "[data-insert='[pause:500ms]']").click()
    ta.send_keys("Speaker 1: Then let's start with the basics: what does \"real time\" mean "
                 "here?\nSpeaker 2: It means every 133 milliseconds of audio takes less than 133 "
                 "milliseconds to make.\n")
    script = ta.get_attribute("value")
    t.ok(script.replace("\n\n", "\n").strip() == open(os.path.join(EX, "two-speakers-pause.txt"))
         .read().strip(), "the script equals the example with its pause", script)
    seed = driver.find_element(By.ID, "seed")
    seed.clear()
    seed.send_keys("3")

    driver.find_element(By.ID, "generate").click()
    wait.until(lambda d: d.execute_script(
        "return studioStats.tStreamEnd > 0 && ['done','failed','stopped']"
        ".includes(studioStats.state)"))
    time.sleep(0.5)   # the next poll fills the table
    st = driver.execute_script("return studioStats")
    t.ok(st["state"] == "done", "the job is done", st)
    t.ok(st["tFirstAudio"] > 0 and st["tFirstAudio"] < st["tStreamEnd"]
         and st["bytesAtFirstAudio"] < st["bytes"],
         "audio bytes arrive before the stream ends, and more after them", st)
    wait.until(lambda d: d.execute_script("return studioStats.stateAtFirstAudio !== null"))
    st = driver.execute_script("return studioStats")
    t.ok(st["stateAtFirstAudio"] == "running",
         "when the first audio arrived the job was still running", st)
    _, job, _ = srv.request("GET", "/api/jobs/%d" % st["jobId"])
    t.ok(st["bytes"] == 44 + round(job["audio_seconds"] * 24000) * 2,
         "the browser received the whole WAV (header + every sample)", st["bytes"], job)
    cells = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
             for tr in driver.find_elements(By.CSS_SELECTOR, "#utterances tbody tr")]
    t.ok(len(cells) == 2 and all(float(c[3]) == round(u["real_time_factor"], 3)
                                 for c, u in zip(cells, job["utterances"])),
         "the page shows each utterance's RTF from the vv-utterance messages", cells)
    prog = float(driver.find_element(By.ID, "progress").get_attribute("value"))
    t.ok(prog == 1.0, "the progress bar is full", prog)
    lit = driver.execute_script("""
        const c = document.getElementById('waveform');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 1] > 150 && d[i] < 150) n++;
        return n;""")
    t.ok(lit > 500, "the waveform is drawn (%d waveform pixels)" % lit, lit)
    dl = driver.find_element(By.ID, "download")
    href = dl.get_attribute("href")
    t.ok(dl.is_displayed() and href.endswith("/api/jobs/%d/wav" % st["jobId"]),
         "a WAV download link", href)
    status, wav, _ = srv.request("GET", "/api/jobs/%d/wav" % st["jobId"])
    t.ok(status == 200 and wav[:4] == b"RIFF" and len(wav) == st["bytes"],
         "the download is the streamed WAV", status, len(wav))
    browser_ms = st["tFirstAudio"] - st["tGenerate"]
    print("# time to first audio byte in the browser: %.0f ms after Generate; at the server "
          "%.0f ms after the pipeline started (%.0f ms queued); the pipeline's own first-frame "
          "latency %.1f ms" % (browser_ms, job["first_audio_ms"], job["queued_ms"],
                               job["utterances"][0]["first_frame_latency_ms"]))
    os.makedirs(os.path.dirname(os.path.abspath(SHOT)), exist_ok=True)
    t.ok(driver.save_screenshot(SHOT) and os.path.getsize(SHOT) > 10000,
         "screenshot saved: " + SHOT)

    # a bad script: the parser's message with its line, the line selected
    ta.clear()
    ta.send_keys("Speaker 1: Hello.\nSpeaker 2: Hi.\n[Volume:11]\n")
    driver.find_element(By.ID, "generate").click()
    wait.until(lambda d: d.find_element(By.ID, "script-error").is_displayed())
    err = driver.find_element(By.ID, "script-error").text
    t.ok("line 3" in err and "Volume" in err and err.startswith("script"),
         "a bad script shows the parser's line-numbered message", err)
    sel = driver.execute_script("const t = document.getElementById('script');"
                                "return t.value.slice(t.selectionStart, t.selectionEnd)")
    t.ok(sel == "[Volume:11]", "and selects that line in the editor", sel)
finally:
    if driver is not None:
        driver.quit()
    rc, log = srv.stop()
t.ok(rc == 0, "the server exits cleanly", rc, log[-2000:])
sys.exit(t.done())
