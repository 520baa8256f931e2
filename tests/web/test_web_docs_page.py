"""The API documentation page (the audit of 2026-12-05): it loaded Swagger UI from a CDN
(``swagger-ui-dist@5``, any 5.x, no integrity hash) with the page's CSP removed, on the
election's own origin, so a third-party script could read and drive the booth and the
admin pages of the same origin; and offline it was blank. Now it is Viche's own page
under the pages' strict CSP, rendered from ``/api/v1/openapi.json``."""

from __future__ import annotations

import re

from support.web import Served


def test_the_docs_page_loads_nothing_from_elsewhere(served: Served) -> None:
    r = served.client.get("/api/v1/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    page = r.text
    assert "<script>" not in page  # no inline script
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), page
    for asset in re.findall(r"""(?:src|href)="(/[^"]+)\"""", page):
        got = served.client.get(asset)
        assert got.status_code == 200, asset


def test_the_docs_script_renders_the_openapi_document_as_text(served: Served) -> None:
    script = served.client.get("/apidocs/docs.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "/api/v1/openapi.json" in script.text
    assert "innerHTML" not in script.text  # the document's text is never parsed as markup
