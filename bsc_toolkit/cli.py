"""The ``bsc`` command: simulate data, validate tables, print KPIs, build reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

app = typer.Typer(
    help="Balanced Scorecard customer-perspective toolkit: data, KPIs and notebook reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _parse_value(raw: str):
    """Parse a command-line parameter value like papermill's YAML parsing."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the data set to.")] = Path("data/simulated"),
    n_customers: Annotated[int, typer.Option("--n-customers", "-n", help="Number of customers.")] = 2000,
    n_periods: Annotated[int, typer.Option(help="Number of quarters.")] = 8,
    start: Annotated[str, typer.Option(help="First period, e.g. 2024Q1.")] = "2024Q1",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2024,
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    chunk_size: Annotated[
        int, typer.Option(help="Customers simulated and written at a time (bounds memory; part of the random design).")
    ] = 100_000,
) -> None:
    """Write a simulated customer base with known ground truth (truth.json).

    Customers are simulated and appended in chunks, so memory stays bounded
    (about 0.7 GB) however many customers are written.
    """
    from bsc_toolkit.data.simulate import simulate_to_dir

    if file_format not in {"csv", "parquet"}:
        _fail(f"--format must be csv or parquet, not {file_format!r}")
    try:
        path = simulate_to_dir(
            out_dir,
            n_customers=n_customers,
            n_periods=n_periods,
            start=start,
            seed=seed,
            chunk_size=chunk_size,
            file_format=file_format,
        )
    except ValueError as exc:
        _fail(str(exc))
    counts = _row_counts(path, file_format)
    typer.echo(
        f"wrote {counts['customers']:,} customers, {counts['surveys']:,} survey responses and "
        f"{counts['transactions']:,} transactions to {path}"
    )


def _row_counts(path: Path, file_format: str) -> dict[str, int]:
    """Rows of each table file written by ``simulate`` (without loading the tables)."""
    counts = {}
    for name in ("customers", "surveys", "transactions"):
        file = path / f"{name}.{file_format}"
        if file_format == "parquet":
            import pyarrow.parquet as pq

            counts[name] = pq.ParquetFile(file).metadata.num_rows
        else:
            with file.open("rb") as handle:
                counts[name] = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1
    return counts


@app.command()
def validate(
    path: Annotated[
        Path, typer.Argument(help="A data set folder, its dataset.yaml, or one table file (then give --table).")
    ],
    table: Annotated[str | None, typer.Option(help="customers, surveys or transactions (for a single file).")] = None,
) -> None:
    """Check a data set against its description and the table contracts, then list what it supports.

    After the checks, a capability table shows each report section, whether this data supports it
    and, if not, which inputs it would need.
    """
    from bsc_toolkit.data.description import DescriptionError
    from bsc_toolkit.data.io import TABLES, load_dataset, read_table
    from bsc_toolkit.data.schemas import DataValidationError

    if not path.exists():
        _fail(f"no such path: '{path}'")
    try:
        if path.is_dir() or path.suffix.lower() in (".yaml", ".yml"):
            data = load_dataset(path)
        else:
            name = table or next((t for t in TABLES if path.stem.startswith(t)), None)
            if name is None:
                _fail(f"cannot tell which table '{path}' is: pass --table customers|surveys|transactions")
            frame = read_table(path, name)
            typer.echo(f"{name}: {len(frame):,} rows ok")
            typer.secho("valid", fg=typer.colors.GREEN)
            return
    except (DataValidationError, DescriptionError, FileNotFoundError) as exc:
        _fail(str(exc))
    for name in TABLES:
        if name in data.tables_present:
            typer.echo(f"{name}: {len(getattr(data, name)):,} rows ok")
        elif name == "customers":
            typer.echo(f"customers: none (derived: {len(data.customers):,} customer ids from the other tables)")
        else:
            typer.echo(f"{name}: none")
    for note in data.notes:
        typer.echo(f"note: {note}")
    typer.secho("valid", fg=typer.colors.GREEN)
    typer.echo("")
    typer.echo(_capability_text(data))


def _capability_text(data) -> str:
    """The capability table as plain text for the terminal."""
    from bsc_toolkit.capabilities import capability_table

    table = capability_table(data)
    width = max(len(f"{r} / {t}") for r, t in zip(table["report"], table["title"])) + 2
    lines = [f"{'report / section':<{width}}supported  needs", "-" * (width + 40)]
    for row in table.itertuples():
        mark = "yes" if row.supported else "no"
        lines.append(f"{row.report + ' / ' + row.title:<{width}}{mark:<11}{row.needs}")
    return "\n".join(lines)


@app.command()
def init(
    raw_dir: Annotated[Path, typer.Argument(help="Folder with the raw files (CSV, Parquet, Excel).")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write the description (default RAW_DIR/dataset.yaml).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing description.")] = False,
) -> None:
    """Write a starting dataset.yaml by guessing which file is which table and the column mapping.

    The guess is a draft: every mapping it made is listed in the file with the column it came
    from; check them, declare the rating scales, then run `bsc validate`.
    """
    from bsc_toolkit.data.guess import guess_description

    target = out or raw_dir / "dataset.yaml"
    if not raw_dir.is_dir():
        _fail(f"no such folder: '{raw_dir}'")
    if target.exists() and not force:
        _fail(f"'{target}' exists; pass --force to overwrite it")
    try:
        text = guess_description(raw_dir, relative_to=target.parent)
    except ValueError as exc:
        _fail(str(exc))
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}: check the guessed mapping, then run: bsc validate {target.parent}")


@app.command()
def notebooks(
    out_dir: Annotated[Path, typer.Argument(help="Folder to copy the report notebooks to.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite notebooks that exist.")] = False,
) -> None:
    """Copy the report notebooks out of the installed package, to edit them and run them with
    `bsc report --notebooks-dir OUT_DIR`."""
    import shutil

    from bsc_toolkit.report import packaged_notebooks_dir

    source = packaged_notebooks_dir()
    copied = 0
    for nb in sorted(source.rglob("*.ipynb")):
        dest = out_dir / nb.relative_to(source)
        if dest.exists() and not force:
            typer.echo(f"kept    {dest} (exists; --force overwrites)")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb, dest)
        copied += 1
        typer.echo(f"copied  {dest}")
    typer.echo(f"{copied} notebook(s) copied; run them with: bsc report --notebooks-dir {out_dir}")


@app.command()
def kpis(
    data_dir: Annotated[Path | None, typer.Argument(help="Data set directory (default: the synthetic one).")] = None,
    freq: Annotated[str | None, typer.Option(help="Period frequency: Q, M, Y (default: the data set's).")] = None,
    by: Annotated[str | None, typer.Option(help="Customer column to group by, e.g. segment.")] = None,
) -> None:
    """Print the headline customer KPIs per period (missing inputs show as NaN: no data)."""
    import pandas as pd

    from bsc_toolkit.data.description import DescriptionError
    from bsc_toolkit.data.io import load_dataset
    from bsc_toolkit.data.schemas import DataValidationError
    from bsc_toolkit.metrics import kpi_summary

    try:
        data = load_dataset(data_dir)
        table = kpi_summary(
            data.customers,
            data.surveys,
            data.transactions,
            freq=freq or data.freq,
            by=by,
            ratings=data.ratings,
            drivers=data.drivers,
            snapshot=data.description.snapshot_date,
        )
    except (DataValidationError, DescriptionError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    if data.currency != "USD":  # amounts are in the data set's currency whatever the column suffix
        table = table.rename(columns=lambda c: c.replace("_usd", f"_{data.currency.lower()}"))
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        typer.echo(table.round(3).to_string(index=False))


def _split_report_args(args: list[str]) -> tuple[list[Path], dict]:
    """Split ``[NOTEBOOK ...] [-p NAME VALUE ...]`` into notebooks and parameters."""
    notebooks: list[Path] = []
    params: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in {"-p", "--parameter"}:
            if i + 2 >= len(args):
                _fail(f"{arg} needs a NAME and a VALUE, e.g. -p delta 0.5")
            params[args[i + 1]] = _parse_value(args[i + 2])
            i += 3
        elif arg.startswith("-"):
            _fail(f"unknown option {arg!r}; see bsc report --help")
        else:
            notebooks.append(Path(arg))
            i += 1
    return notebooks, params


def _absolute_paths(params: dict) -> dict:
    """Make ``*_dir`` / ``*_path`` parameters absolute (notebooks run in their own folder)."""
    return {
        key: str(Path(value).resolve()) if key.endswith(("_dir", "_path")) and isinstance(value, (str, Path)) else value
        for key, value in params.items()
    }


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def report(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option(help="Data set for every notebook (-p data_dir PATH).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("reports"),
    notebooks_dir: Annotated[
        Path | None, typer.Option(help="Folder of the report suite (default: the notebooks shipped with bsc-toolkit).")
    ] = None,
    hide_code: Annotated[
        bool, typer.Option("--hide-code/--show-code", help="Leave code cells out of the HTML.")
    ] = True,
    variants: Annotated[bool, typer.Option("--variants/--no-variants", help="Also render declared variants.")] = True,
) -> None:
    """Execute notebooks with papermill and render HTML reports plus an index.

    Usage: bsc report [NOTEBOOK ...] [-p NAME VALUE ...]. Without notebooks,
    every notebook in notebooks/ runs. Parameter values are parsed as YAML
    (-p delta 0.5 -p segment smb -p driver null) and go to each notebook that
    declares them in its parameters cell.
    """
    from bsc_toolkit.data.description import DescriptionError
    from bsc_toolkit.data.io import ensure_default_dataset, load_dataset
    from bsc_toolkit.data.schemas import DataValidationError
    from bsc_toolkit.report import ReportError, packaged_notebooks_dir, plan_reports, run_reports

    notebook_args, params = _split_report_args(list(ctx.args))
    try:
        notebooks_dir = notebooks_dir if notebooks_dir is not None else packaged_notebooks_dir()
    except ReportError as exc:
        _fail(str(exc))
    if data_dir is not None:
        params["data_dir"] = data_dir
    params = _absolute_paths(params)
    try:
        jobs = plan_reports(notebook_args or None, notebooks_dir=notebooks_dir, parameters=params, variants=variants)
    except ReportError as exc:
        _fail(str(exc))
    if not jobs:
        _fail(f"no notebooks found in '{notebooks_dir}'")
    if "data_dir" not in params:
        ensure_default_dataset()
    # validate once, before any kernel starts: invalid data stop here with every problem listed
    try:
        data = load_dataset(params.get("data_dir"))
    except (DataValidationError, DescriptionError, FileNotFoundError) as exc:
        _fail(f"the data set is not valid, no report was run:\n{exc}")
    results = run_reports(jobs, out_dir=out_dir, hide_code=hide_code, data=data)
    for res in results:
        if res.not_applicable is not None:
            typer.echo(f"n/a     {res.job.name:<40} not applicable: needs {res.not_applicable}")
        elif res.ok:
            typer.echo(f"ok      {res.job.name:<40} {res.seconds:6.1f} s  {res.html_path}")
        else:
            typer.secho(f"FAILED  {res.job.name:<40} {res.seconds:6.1f} s", fg=typer.colors.RED, err=True)
            typer.secho(f"        {res.error}", fg=typer.colors.RED, err=True)
    typer.echo(f"index: {(out_dir / 'index.html')}")
    failed = [r for r in results if not r.ok]
    if failed:
        _fail(f"{len(failed)} of {len(results)} report(s) failed; previous versions were kept")


if __name__ == "__main__":  # pragma: no cover
    app()
