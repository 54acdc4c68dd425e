"""Checks the executed kernel-smoke notebook: each tagged cell must carry the output it is meant to make.
Usage: check_smoke.py EXECUTED.ipynb ; prints one line per check and exits non-zero on any failure."""
import base64
import sys

import nbformat

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def outputs_by_tag(nb):
    found = {}
    for cell in nb.cells:
        for tag in cell.get("metadata", {}).get("tags", []):
            found[tag] = cell.get("outputs", [])
    return found


def png_size(b64):
    data = base64.b64decode(b64)
    assert data.startswith(PNG_MAGIC), "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def data_of(outputs, mime):
    return [o["data"][mime] for o in outputs if "data" in o and mime in o["data"]]


def stream_text(outputs):
    return "".join(o["text"] for o in outputs if o["output_type"] == "stream")


def checks(out):
    yield "text: stdout and text result", (
        "hello from HyperLab" in stream_text(out["text"]) and data_of(out["text"], "text/plain") == ["Java 25"])
    pngs = data_of(out["chart"], "image/png")
    yield "chart: XChart rendered as a 480x320 PNG", len(pngs) == 1 and png_size(pngs[0]) == (480, 320)
    html = data_of(out["table"], "text/html")
    yield "table: Tablesaw as an HTML table limited to 20 rows", (
        len(html) == 1 and "<table" in html[0] and html[0].count("<tr>") == 21 and "10 more rows" in html[0])
    text = stream_text(out["stream"])
    yield "stream: every tick printed", all(f"tick {i}" in text for i in range(1, 6))
    shown = data_of(out["stream"], "text/plain")
    yield "stream: display updated in place to the last step", shown == ["step 5 of 5"]
    imgs = data_of(out["image"], "image/png")
    yield "image: BufferedImage as a 64x32 PNG", len(imgs) == 1 and png_size(imgs[0]) == (64, 32)
    yield "markdown: markdown() and html() displayed", (
        data_of(out["markdown"], "text/markdown") == ["**bold** from a cell"]
        and data_of(out["markdown"], "text/html") == ["<em>html</em> from a cell"])
    errors = [o for cell in out.values() for o in cell if o["output_type"] == "error"]
    yield "no cell raised an error", not errors


def main(path):
    out = outputs_by_tag(nbformat.read(path, as_version=4))
    failed = 0
    for name, ok in checks(out):
        print(("PASS " if ok else "FAIL ") + name)
        failed += 0 if ok else 1
    print(f"smoke notebook: {failed} of the checks failed" if failed else "smoke notebook: all checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
