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
    path: Annotated[Path, typer.Argument(help="A data set directory, or one table file (then give --table).")],
    table: Annotated[str | None, typer.Option(help="customers, surveys or transactions (for a single file).")] = None,
) -> None:
    """Check a data set (or one table) against the data contracts."""
    from bsc_toolkit.data.io import TABLES, load_dataset, read_table
    from bsc_toolkit.data.schemas import DataValidationError

    try:
        if path.is_dir():
            data = load_dataset(path)
            for name in TABLES:
                typer.echo(f"{name}: {len(getattr(data, name)):,} rows ok")
        else:
            name = table or next((t for t in TABLES if path.stem.startswith(t)), None)
            if name is None:
                _fail(f"cannot tell which table '{path}' is: pass --table customers|surveys|transactions")
            frame = read_table(path, name)
            typer.echo(f"{name}: {len(frame):,} rows ok")
    except (DataValidationError, FileNotFoundError) as exc:
        _fail(str(exc))
    typer.secho("valid", fg=typer.colors.GREEN)


@app.command()
def kpis(
    data_dir: Annotated[Path | None, typer.Argument(help="Data set directory (default: the synthetic one).")] = None,
    freq: Annotated[str, typer.Option(help="Period frequency: Q, M, Y.")] = "Q",
    by: Annotated[str | None, typer.Option(help="Customer column to group by, e.g. segment.")] = None,
) -> None:
    """Print the headline customer KPIs per period."""
    import pandas as pd

    from bsc_toolkit.data.io import load_dataset
    from bsc_toolkit.data.schemas import DataValidationError
    from bsc_toolkit.metrics import kpi_summary

    try:
        data = load_dataset(data_dir)
        table = kpi_summary(data.customers, data.surveys, data.transactions, freq=freq, by=by)
    except (DataValidationError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
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
    notebooks_dir: Annotated[Path, typer.Option(help="Folder of the report suite.")] = Path("notebooks"),
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
    from bsc_toolkit.report import ReportError, plan_reports, run_reports

    notebook_args, params = _split_report_args(list(ctx.args))
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
        from bsc_toolkit.data.io import ensure_default_dataset

        ensure_default_dataset()
    results = run_reports(jobs, out_dir=out_dir, hide_code=hide_code)
    for res in results:
        if res.ok:
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
