"""Issue 13 item 2: crafted import files get a bounded preview and are parsed once.

The crafted files are built by ``benchmarks.import_preview`` (which also times them); no
file is stored in the repository. Time is not asserted here, only page size and messages.
"""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pytest

from benchmarks.import_preview import EXPERT_HEADER, _expert, blank_rows_xlsx, unnamed_cells_xlsx, wide_csv
from tests.conftest import csrf_token

PAGE_LIMIT = 200_000


@pytest.fixture(autouse=True)
def english_ui(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


def upload(client, filename: str, data: bytes):
    page = client.get("/transfer/")
    return client.post("/transfer/upload", data={"csrf_token": csrf_token(page), "kind": "experts",
                                                 "file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def text(response) -> str:
    return html.unescape(response.data.decode())


def test_unnamed_cells_beyond_the_column_limit_refuse_the_file_with_a_short_page(client, auth):
    auth.login_as("coordinator")
    response = upload(client, "unnamed.xlsx", unnamed_cells_xlsx())
    assert response.status_code == 400
    assert len(response.data) < PAGE_LIMIT
    assert "Row 2 has values in more than 100 columns" in text(response)


def test_extra_cells_in_a_csv_refuse_the_file_with_a_short_page(client, auth):
    auth.login_as("coordinator")
    response = upload(client, "wide.csv", wide_csv())
    assert response.status_code == 400
    assert len(response.data) < PAGE_LIMIT
    assert "Row 2 has values in more than 100 columns" in text(response)


def test_blank_rows_are_ignored_and_the_file_is_parsed_once(app, client, auth):
    auth.login_as("coordinator")
    response = upload(client, "blank.xlsx", blank_rows_xlsx())
    assert response.status_code == 302, text(response)[:2000]
    token = re.search(r"/transfer/preview/([0-9a-f]{32})$", response.headers["Location"]).group(1)
    stored = Path(app.config["UPLOAD_DIR"]) / f"import-{token}.data"
    kept = json.loads(stored.read_bytes())  # the parsed cells, not the workbook
    assert [number for number, _cells in kept["rows"]] == [2, 3]
    preview = client.get(response.headers["Location"])
    assert len(preview.data) < PAGE_LIMIT
    assert "2 experts with 2 achievements will be imported." in text(preview)
    # Parsed once: the confirmation imports what was stored even with the workbook gone.
    done = client.post("/transfer/confirm", data={"csrf_token": csrf_token(preview), "token": token})
    assert done.status_code == 302
    assert "Imported 2 experts" in text(client.get("/transfer/"))


def test_blank_rows_in_a_csv_do_not_count_as_data_or_towards_the_row_limit(client, auth):
    auth.login_as("coordinator")
    rows = "\r\n".join(",".join(row) for row in [EXPERT_HEADER, _expert(1)]) + "\r\n" + ",,,\r\n" * 210_000
    response = upload(client, "blank.csv", rows.encode())
    assert response.status_code == 302, text(response)[:2000]


def test_only_the_first_problems_are_listed_with_the_total_count(client, auth):
    auth.login_as("coordinator")
    rows = [_expert(i)[:9] + ["not-a-number"] + _expert(i)[10:] for i in range(300)]
    data = "\r\n".join(",".join(row) for row in [EXPERT_HEADER, *rows]).encode()
    response = upload(client, "problems.csv", data)
    body = text(response)
    assert response.status_code == 200
    assert body.count("<tr><td>") == 200
    assert "300 problem(s) found" in body
    assert "Only the first 200 of 300 problems are listed." in body
