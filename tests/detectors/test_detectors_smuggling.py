"""HtmlSmugglingDetector: files built in the browser, and obfuscated script."""

from __future__ import annotations

import base64

from helpers_detectors import attachment, by_symbol, make_message, run

from mailward.detectors.smuggling import HtmlSmugglingDetector
from mailward.model import Attachment, Finding

# An inert payload: 3 KB of repeated text, base64-encoded at test time.
PAYLOAD = base64.b64encode(b"inert test payload, nothing to run here. " * 80).decode()
SMUGGLER = f"""<html><body><p>Loading your document...</p><script>
var data = "{PAYLOAD}";
var raw = atob(data);
var bytes = new Uint8Array(raw.length);
for (var i = 0; i < raw.length; i++) {{ bytes[i] = raw.charCodeAt(i); }}
var blob = new Blob([bytes], {{type: "application/octet-stream"}});
var a = document.createElement("a");
a.href = window.URL.createObjectURL(blob);
a.download = "invoice.iso";
a.click();
</script></body></html>"""
NEWSLETTER = (
    """<html><head><script async src="https://analytics.example.com/a.js"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}
gtag('js', new Date()); gtag('config', 'G-TEST');</script></head>
<body><h1>Spring news</h1><p>Our garden centre opens early this week.</p>
<img src="data:image/png;base64,"""
    + "iVBORw0KGgo" * 400
    + """" alt="banner">
<a href="https://shop.example.com/catalogue.pdf" download>Download the catalogue</a>
</body></html>"""
)


def findings(html: str = "", *atts: Attachment) -> dict[str, Finding]:
    detector = HtmlSmugglingDetector(HtmlSmugglingDetector.Settings())
    return by_symbol(run(detector, make_message(html=html, attachments=atts)))


def test_blob_built_from_long_base64_in_an_attachment_is_smuggling() -> None:
    found = findings("", attachment("document.html", SMUGGLER.encode(), "text/html"))
    hit = found["HTML_SMUGGLING"]
    assert hit.factor == 1.0
    assert "Blob + createObjectURL" in hit.evidence
    assert "atob() of a long base64 string" in hit.evidence
    assert '"document.html"' in hit.explanation


def test_smuggling_in_the_message_body_hits() -> None:
    assert findings(SMUGGLER)["HTML_SMUGGLING"].factor == 1.0


def test_download_link_to_data_uri_plus_decoding_hits() -> None:
    page = (
        f'<a id="d" href="data:application/octet-stream;base64,{PAYLOAD}" download="a.zip">x</a>'
        "<script>eval(atob('YWxlcnQoMSk='));</script>"
    )
    hit = findings("", attachment("view.htm", page.encode(), "text/html"))["HTML_SMUGGLING"]
    assert hit.factor == 1.0
    assert "download link to data:/blob:" in hit.evidence


def test_lone_file_building_indicator_is_weak() -> None:
    page = "<script>navigator.msSaveOrOpenBlob(report, 'report.csv');</script>"
    assert findings(page)["HTML_SMUGGLING"].factor < 0.5


def test_newsletter_with_analytics_and_https_download_link_misses() -> None:
    assert findings(NEWSLETTER, attachment("news.html", NEWSLETTER.encode(), "text/html")) == {}


def test_long_base64_without_building_a_file_is_not_smuggling() -> None:
    page = f'<script>var img = atob("{PAYLOAD}"); console.log(img.length);</script>'
    assert "HTML_SMUGGLING" not in findings(page)


def test_eval_of_decoded_text_and_fromcharcode_chain_are_obfuscated() -> None:
    codes = ",".join(str(ord(c)) for c in "alert('inert test only')")
    page = f"<script>eval(atob('YWxlcnQoMSk=')); var s = String.fromCharCode({codes});</script>"
    hit = findings(page)["HTML_OBFUSCATED_SCRIPT"]
    assert hit.factor == 1.0
    assert "long fromCharCode chain" in hit.evidence


def test_document_write_unescape_is_obfuscated() -> None:
    page = "<script>document.write(unescape('%3Cp%3Ehello%3C/p%3E'));</script>"
    assert findings(page)["HTML_OBFUSCATED_SCRIPT"].factor == 0.6


def test_ordinary_script_is_not_obfuscated() -> None:
    page = "<script>document.getElementById('y').textContent = new Date().getFullYear();</script>"
    assert findings(page) == {}


def test_script_source_outside_html_is_left_to_the_attachments_detector() -> None:
    script = SMUGGLER.split("<script>")[1].split("</script>", maxsplit=1)[0].encode()
    assert findings("", attachment("helper.txt", script, "text/plain")) == {}
