"""``sojourn catalog import``: CSV and JSONL files, rejects file, re-runs that change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from worker.cli import app

runner = CliRunner()

CSV = """id,name,price,currency,category,stock,related,alternatives,url
cam-1,Reflex 24 MP,899,EUR,cameras,3,lens-50|bag-s,cam-2,https://shop.example/cam-1
lens-50,Objectif 50 mm,249.90,EUR,lenses,in,,,https://shop.example/lens-50
bag-s,Sac photo,59,EUR,bags,out,,,
ghost,,,,,2,,,
bad,Prix faux,-3,EUR,,,,,
"""


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOJOURN_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def show(product_id: str) -> dict:
    result = runner.invoke(app, ["catalog", "show", product_id])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_csv_import_stores_valid_rows_and_writes_the_rejects(db_env: Path) -> None:
    path = db_env / "products.csv"
    path.write_text(CSV)
    result = runner.invoke(app, ["catalog", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "accepted": 3,
        "created": 3,
        "updated": 0,
        "rejected": 2,
        "rejects_file": str(path) + ".rejected.jsonl",
    }
    rejects = [
        json.loads(line) for line in Path(str(path) + ".rejected.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["id"], r["field"]) for r in rejects] == [
        (5, "ghost", "name"),
        (6, "bad", "price"),
    ]
    cam = show("cam-1")
    assert (cam["price"], cam["stock"], cam["in_stock"]) == (899.0, 3, True)
    assert cam["related"] == ["lens-50", "bag-s"] and cam["alternatives"] == ["cam-2"]
    assert show("bag-s")["in_stock"] is False
    assert show("lens-50")["in_stock"] is True

    again = runner.invoke(app, ["catalog", "import", str(path)])
    assert again.exit_code == 0
    assert "accepted 3 (0 new, 3 updated), rejected 2" in again.stdout


def test_jsonl_stock_update_and_a_line_that_is_not_json(db_env: Path) -> None:
    first = db_env / "catalog.jsonl"
    first.write_text(
        json.dumps({"id": "42", "name": "Trépied", "price": 39.5, "currency": "EUR", "stock": 8})
        + "\n{not json\n"
    )
    result = runner.invoke(app, ["catalog", "import", str(first), "--json"])
    assert json.loads(result.stdout)["rejected"] == 1
    update = db_env / "stock.jsonl"
    update.write_text(json.dumps({"id": "42", "stock": 0}) + "\n")
    result = runner.invoke(app, ["catalog", "import", str(update), "--json"])
    assert json.loads(result.stdout)["updated"] == 1
    product = show("42")
    assert (product["name"], product["stock"], product["in_stock"]) == ("Trépied", 0, False)


def test_an_unknown_product_is_an_error(db_env: Path) -> None:
    result = runner.invoke(app, ["catalog", "show", "nope"])
    assert result.exit_code == 1
    assert "no product 'nope'" in result.output


def test_another_file_type_is_refused(db_env: Path) -> None:
    path = db_env / "products.xlsx"
    path.write_text("x")
    result = runner.invoke(app, ["catalog", "import", str(path)])
    assert result.exit_code != 0


def test_a_nul_character_rejects_its_row_and_the_others_are_imported(db_env: Path) -> None:
    # PostgreSQL cannot store U+0000: the row is rejected naming the field, never stripped.
    path = db_env / "nul.jsonl"
    rows = [
        {"id": "ok-1", "name": "Trépied", "price": 39.5, "currency": "EUR"},
        {"id": "nul-1", "name": "Tré\x00pied", "price": 39.5, "currency": "EUR"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["catalog", "import", str(path), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected"] == 1
    [reject] = [
        json.loads(line) for line in Path(str(path) + ".rejected.jsonl").read_text().splitlines()
    ]
    assert (reject["line"], reject["id"], reject["field"]) == (2, "nul-1", "name")
    assert "NUL" in reject["error"]
    assert show("ok-1")["name"] == "Trépied"
    assert runner.invoke(app, ["catalog", "show", "nul-1"]).exit_code != 0


def test_values_no_backend_can_store_reject_their_rows_and_the_others_are_imported(
    db_env: Path,
) -> None:
    # JSON text as a file holds it: a lone surrogate escape, NaN, 1e400 (read as Infinity).
    path = db_env / "unstorable.jsonl"
    path.write_text(
        '{"id": "ok-2", "name": "Sac", "price": 19.0, "currency": "EUR"}\n'
        '{"id": "sur-1", "name": "Sac\\ud800", "price": 19.0, "currency": "EUR"}\n'
        '{"id": "nan-1", "name": "Sac", "price": NaN, "currency": "EUR"}\n'
        '{"id": "inf-1", "name": "Sac", "price": 1e400, "currency": "EUR"}\n'
    )
    result = runner.invoke(app, ["catalog", "import", str(path), "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected"] == 3
    rejects = [
        json.loads(line) for line in Path(str(path) + ".rejected.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["field"]) for r in rejects] == [(2, "name"), (3, "price"), (4, "price")]
    assert show("ok-2")["name"] == "Sac"
    for rejected in ("sur-1", "nan-1", "inf-1"):
        assert runner.invoke(app, ["catalog", "show", rejected]).exit_code != 0


def test_a_rejects_path_it_cannot_write_is_refused_before_the_import(db_env: Path) -> None:
    # The import ran, then writing the reasons failed with a traceback: rejects lost.
    path = db_env / "products.csv"
    path.write_text(CSV)
    missing = db_env / "missing" / "r.jsonl"
    result = runner.invoke(app, ["catalog", "import", str(path), "--rejects", str(missing)])
    assert result.exit_code == 1, result.output
    assert f"--rejects {missing}: there is no folder" in result.stderr
    assert runner.invoke(app, ["catalog", "show", "cam-1"]).exit_code == 1  # nothing imported
    own = runner.invoke(app, ["catalog", "import", str(path), "--rejects", str(path)])
    assert own.exit_code == 1 and "is the file being read" in own.stderr
    assert path.read_text() == CSV


@pytest.mark.parametrize("batch", ["0", "-1"])
def test_a_batch_below_one_is_refused(db_env: Path, batch: str) -> None:
    path = db_env / "products.csv"
    path.write_text(CSV)
    result = runner.invoke(app, ["catalog", "import", str(path), "--batch", batch])
    assert result.exit_code == 2 and "--batch" in result.output


def test_a_csv_row_whose_quote_never_closes_is_rejected_not_merged_into_one(
    db_env: Path,
) -> None:
    path = db_env / "unclosed.csv"
    path.write_text(
        'id,name,price,currency\nok-3,Sac,19.0,EUR\nopen-1,"Sac,19.0,EUR\nafter-1,Cap,9.0,EUR\n'
    )
    result = runner.invoke(app, ["catalog", "import", str(path), "--json"])

    assert result.exit_code == 0, result.output
    [reject] = [
        json.loads(line) for line in Path(str(path) + ".rejected.jsonl").read_text().splitlines()
    ]
    assert (reject["line"], reject["field"]) == (3, "line")
    assert "never closed" in reject["error"]
    assert show("ok-3")["name"] == "Sac"
    assert runner.invoke(app, ["catalog", "show", "open-1"]).exit_code != 0
