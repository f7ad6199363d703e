"""Import preview of three crafted files (issue 13, item 2). Prints JSON; never asserts.

    python -m benchmarks.import_preview

Each file is built here, in memory: a 5,000-row XLSX whose rows carry 110 cells under no
column name, a CSV with 50,000 extra cells per row, and an XLSX with 199,500 blank rows
after its data. Each is uploaded by a coordinator through the test client of a fresh app
(SQLite in a temporary directory); the figures are the seconds and page bytes of the upload
answer plus, when the upload was accepted, of the preview page it redirects to.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

EXPERT_HEADER = ["name", "title", "organization", "region", "disciplines", "research_areas", "keywords", "summary",
                 "cooperation_modes", "capacity", "phone", "email", "wechat", "achievements"]


def _expert(i: int) -> list[str]:
    return [f"专家{i}", "教授", "某大学", "广东省茂名市", "460", "振动控制", "阻尼", "长期从事减振研究。", "consulting", "3",
            "", "", "", f"汽车减振器研究{i}"]


def _xlsx(rows) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def unnamed_cells_xlsx(rows: int = 5000, cells: int = 110) -> bytes:
    """Expert rows 110 cells wide under a header that names only the first 14 columns."""
    return _xlsx([EXPERT_HEADER, *(_expert(i) + [f"x{i}"] * (cells - len(EXPERT_HEADER)) for i in range(rows))])


def wide_csv(rows: int = 10, extra: int = 50_000) -> bytes:
    """A valid expert CSV whose every data row carries ``extra`` more cells than the header."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(EXPERT_HEADER)
    for i in range(rows):
        writer.writerow(_expert(i) + ["1"] * extra)
    return buffer.getvalue().encode("utf-8")


def blank_rows_xlsx(blank: int = 199_500) -> bytes:
    """Two valid expert rows followed by ``blank`` rows whose cells are all empty strings."""
    return _xlsx([EXPERT_HEADER, _expert(1), _expert(2), *([""] * 3 for _ in range(blank))])


CRAFTED = {
    "unnamed_cells_xlsx": ("unnamed.xlsx", unnamed_cells_xlsx),
    "wide_csv": ("wide.csv", wide_csv),
    "blank_rows_xlsx": ("blank.xlsx", blank_rows_xlsx),
}


def preview(client, filename: str, data: bytes) -> dict:
    """Upload ``data`` as experts and follow the redirect to the preview; seconds and bytes."""
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/transfer/").data).group(1)
    started = time.perf_counter()
    response = client.post("/transfer/upload", data={"csrf_token": token.decode(), "kind": "experts",
                                                     "file": (io.BytesIO(data), filename)},
                           content_type="multipart/form-data")
    pages = [response]
    if response.status_code == 302:
        pages.append(client.get(response.headers["Location"]))
    seconds = time.perf_counter() - started
    return {"file_bytes": len(data), "status": [page.status_code for page in pages],
            "seconds": round(seconds, 3), "page_bytes": max(len(page.data) for page in pages)}


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flask_migrate import upgrade

    from tests.conftest import make_app
    from tests.factories import Factory

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), f"sqlite:///{Path(tmp) / 'bench.db'}", WTF_CSRF_ENABLED=True)
        with app.app_context():
            upgrade()
        factory = Factory(app)
        coordinator = factory.user(role="coordinator")
        client = app.test_client()
        page = client.get("/auth/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
        client.post("/auth/login", data={"email": coordinator.email, "password": Factory.PASSWORD, "csrf_token": token})
        results = {}
        for name, (filename, build) in CRAFTED.items():
            results[name] = preview(client, filename, build())
    json.dump({"benchmark": "import_preview", "target": {"seconds": 2.0, "page_bytes": 200_000}, "files": results},
              sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
