"""Progress of an import: stages with rows per second, an estimate before a long one, and the
command line's --progress."""

from __future__ import annotations

from salesplan import imports
from salesplan.cli import main

SALES = "date,rep,amount\n" + "".join(f"2025-03-{day:02d},R001,{day}\n" for day in range(1, 29))


def test_the_callback_hears_every_stage_in_order_with_rows_per_second(reps_store):
    heard: list[tuple[float, str]] = []
    imports.import_file(reps_store, "actuals", SALES.encode(), file_name="s.csv", progress=lambda f, t: heard.append((f, t)))
    fractions = [fraction for fraction, _ in heard]
    assert fractions == sorted(fractions) and fractions[0] < 0.1 and fractions[-1] == 1.0
    texts = [text for _, text in heard]
    assert texts[0].startswith("Reading s.csv") and "about" not in texts[0]  # a small file: no estimate
    assert any(text.startswith("Checking 28 rows") and "rows/s" in text for text in texts)
    assert any(text.startswith("Writing 28 rows") for text in texts)
    assert texts[-1].startswith("Imported s.csv: batch") and "28 rows in" in texts[-1] and texts[-1].endswith("rows/s)")


def test_a_long_import_is_announced_with_an_estimate_from_the_file_size(reps_store, monkeypatch):
    monkeypatch.setitem(imports.ESTIMATE_MB_PER_SECOND, "csv", 0.0001)  # as if the machine were very slow
    heard: list[str] = []
    imports.import_file(reps_store, "actuals", SALES.encode(), file_name="s.csv", progress=lambda f, t: heard.append(t))
    expected = imports.estimate_seconds(len(SALES.encode()))
    assert expected >= imports.LONG_IMPORT_SECONDS
    assert f"about {expected:,.0f} s" in heard[0]


def test_cli_progress_prints_the_stages_on_stderr(reps_store, tmp_path, capsys):
    path = tmp_path / "s.csv"
    path.write_text(SALES)
    assert main(["--db", str(reps_store.path), "import", "actuals", str(path), "--progress"]) == 0
    captured = capsys.readouterr()
    assert "28 inserted" in captured.out
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith("[  2%] Reading s.csv") and lines[-1].startswith("[100%] Imported s.csv")
    assert all("rows/s" in line for line in lines[1:])
