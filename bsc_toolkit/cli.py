"""The ``bsc`` command: simulate data, validate tables, print KPIs, build reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Balanced Scorecard customer-perspective toolkit: data, KPIs and notebook reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


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
    order_rate: Annotated[
        float,
        typer.Option(
            help="Multiplier of the expected orders per customer and quarter (1: about 12 transactions per "
            "customer over 8 quarters)."
        ),
    ] = 1.0,
    response_rate: Annotated[
        float,
        typer.Option(
            help="Probability that an active customer answers a quarter's survey (0.8: about 4.2 responses per "
            "customer over 8 quarters)."
        ),
    ] = 0.8,
    warehouse_scale: Annotated[
        bool,
        typer.Option(
            "--warehouse-scale",
            help="--order-rate 1.62 --response-rate 0.76: about 20 transactions and 4 survey responses per customer "
            "(-n 5000000: ~100M transactions, ~20M survey responses).",
        ),
    ] = False,
    describe: Annotated[
        bool, typer.Option("--describe/--no-describe", help="Write dataset.yaml beside the tables.")
    ] = True,
) -> None:
    """Write a simulated customer base with known ground truth (truth.json).

    Customers are simulated and appended in chunks, so memory stays bounded
    (about 0.7 GiB whatever the number of customers: 5M customers with
    --warehouse-scale, 100M transactions, in 82 s on 2 cores).
    """
    from bsc_toolkit.data.simulate import WAREHOUSE_SCALE, simulate_to_dir

    if file_format not in {"csv", "parquet"}:
        _fail(f"--format must be csv or parquet, not {file_format!r}")

    def progress(done: int, total: int) -> None:
        typer.echo(f"{done:,} / {total:,} customers", err=True)

    given = {"order_rate": order_rate, "response_rate": response_rate}
    if warehouse_scale and given != {"order_rate": 1.0, "response_rate": 0.8}:
        _fail("--warehouse-scale sets --order-rate 1.62 and --response-rate 0.76: give one or the other")
    rates = dict(WAREHOUSE_SCALE) if warehouse_scale else given
    try:
        path = simulate_to_dir(
            out_dir,
            n_customers=n_customers,
            n_periods=n_periods,
            start=start,
            seed=seed,
            chunk_size=chunk_size,
            file_format=file_format,
            describe=describe,
            progress=progress if n_customers > chunk_size else None,
            **rates,
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

    Errors (contract problems, dates outside the declared observation window, personal columns
    mapped or kept) are listed all at once and exit with status 1. Otherwise the row counts, then
    the warnings (implausible dates, orders after churn), then the notes of loading, and
    "valid (N warnings)" (status 0). After the checks, a capability table shows each report
    section, whether this data supports it and, if not, which inputs it would need.
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
    for warning in data.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW)
    for note in data.notes:
        typer.echo(f"note: {note}")
    count = len(data.warnings)
    typer.secho("valid" + (f" ({count} warning{'s' if count != 1 else ''})" if count else ""), fg=typer.colors.GREEN)
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


ENGINE_HELP = (
    "Where the data-sized steps run: duckdb (in this process, streams Parquet/CSV, out-of-core), spark "
    "(the active Spark session or local[2]; needs Java) or pandas (everything in memory; reads Excel). "
    "[default: duckdb, pandas for a data set with Excel tables]"
)


def _engine_for(engine: str | None, data_dir: Path | None) -> str:
    """The engine to use: the one asked for, else duckdb (pandas for Excel input, which stays on pandas)."""
    from bsc_toolkit.engine import ENGINES

    if engine is not None:
        if engine not in ENGINES:
            _fail(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        return engine
    from bsc_toolkit.data.io import locate_dataset

    try:
        files = locate_dataset(data_dir).files
    except Exception:  # noqa: BLE001 - a broken data set is reported by the engine's own open, with the field
        return "duckdb"
    excel = any(Path(str(where)).suffix.lower() in (".xlsx", ".xlsm", ".xls") for where in files.values())
    return "pandas" if excel else "duckdb"


@app.command()
def kpis(
    data_dir: Annotated[Path | None, typer.Argument(help="Data set directory (default: the synthetic one).")] = None,
    freq: Annotated[str | None, typer.Option(help="Period frequency: Q, M, Y (default: the data set's).")] = None,
    by: Annotated[str | None, typer.Option(help="Customer column to group by, e.g. segment.")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help=ENGINE_HELP)] = None,
) -> None:
    """Print the headline customer KPIs per period (missing inputs show as NaN: no data).

    On duckdb and spark the tables are scanned where they are (files, globs or the described database
    connection) and only the per-period table comes back; the numbers are those of the pandas engine.
    """
    import pandas as pd

    from bsc_toolkit.data.description import DescriptionError
    from bsc_toolkit.data.schemas import DataValidationError
    from bsc_toolkit.engine import EngineError

    engine = _engine_for(engine, data_dir)
    try:
        if engine == "pandas":
            from bsc_toolkit.data.io import load_dataset
            from bsc_toolkit.metrics import kpi_summary

            data = load_dataset(data_dir)
            currency = data.currency
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
        else:
            from bsc_toolkit.engine.kpis import kpi_summary as engine_kpi_summary
            from bsc_toolkit.engine.sources import open_tables

            tables = open_tables(data_dir, engine)
            currency = tables.description.currency
            table = engine_kpi_summary(tables, freq=freq, by=by)
    except (DataValidationError, DescriptionError, FileNotFoundError, ValueError, EngineError) as exc:
        _fail(str(exc))
    if currency != "USD":  # amounts are in the data set's currency whatever the column suffix
        table = table.rename(columns=lambda c: c.replace("_usd", f"_{currency.lower()}"))
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        typer.echo(table.round(3).to_string(index=False))


def _split_report_args(args: list[str]) -> tuple[list[Path], dict]:
    """Split ``[NOTEBOOK ...] [-p NAME VALUE ...]`` into notebooks and parameters (values as typed).

    Each value is a :class:`~bsc_toolkit.report_params.CommandLineValue`: read as YAML, or kept as
    typed where the notebook's default is text, when the reports are planned.
    """
    from bsc_toolkit.report_params import CommandLineValue

    notebooks: list[Path] = []
    params: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in {"-p", "--parameter"}:
            if i + 2 >= len(args):
                _fail(f"{arg} needs a NAME and a VALUE, e.g. -p delta 0.5")
            params[args[i + 1]] = CommandLineValue(args[i + 2])
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
    mask_ids: Annotated[
        bool,
        typer.Option(
            "--mask-ids",
            help="Show pseudonyms instead of customer ids in the reports of notebooks with a mask_ids parameter "
            "(the same pseudonym in every report of the run: key from $BSC_MASK_KEY, else a fresh key per run).",
        ),
    ] = False,
    cell_timeout: Annotated[
        int,
        typer.Option(
            "--cell-timeout", min=1, metavar="SECONDS", help="Seconds a notebook cell may run before its report fails."
        ),
    ] = 600,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            metavar="N",
            help="Notebooks run at once, each with its own kernel [default: min(2, CPUs)].",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run every notebook, even those whose inputs did not change (cached).")
    ] = False,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print each report to OUT/NAME.pdf with headless Chromium.")
    ] = False,
    engine: Annotated[str | None, typer.Option("--engine", help=ENGINE_HELP)] = None,
) -> None:
    """Execute notebooks with papermill and render HTML reports plus an index.

    Usage: bsc report [NOTEBOOK ...] [-p NAME VALUE ...]. Without notebooks,
    every notebook of the suite runs. Parameter values are parsed as YAML
    (-p delta 0.5 -p segment smb -p driver null) and go to each notebook that
    declares them in its parameters cell, converted to its annotated type or the
    type of its default; a name no selected notebook declares, a value of the
    wrong type or outside the notebook's parameter bounds, an invalid scorecard,
    an unwritable --out or invalid data stop the run before any notebook runs.
    A report with sections that could not be computed is written and listed as
    ok*; the command then exits with status 1, as when a notebook fails.
    Notebooks run --jobs at a time. A report whose notebook, parameters, package
    source and data did not change since it was written is not run again (listed
    as cached; the cache is in OUT/.cache); --force runs every one. --pdf prints
    each report to PDF with headless Chromium (skipped, with the reason, when
    Chromium is not there). Ctrl-C (or SIGTERM) stops the running notebooks,
    keeps their previous reports and rebuilds the index from the reports that
    finished. --engine (-p engine) says where a data set of more than
    max_customers customers (-p max_customers, default 50,000) is read: its KPI
    tables use every customer, computed on the engine, and its models a random
    sample of max_customers customers, which each report states.
    """
    import signal
    import threading

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signum)  # before the kernels start; run_reports handles the run itself

    previous = None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_IGN,
        None,
    ):
        previous = signal.signal(signal.SIGTERM, terminate)
    try:
        _report(
            ctx, data_dir, out_dir, notebooks_dir, hide_code, variants, mask_ids, cell_timeout, jobs, force, pdf, engine
        )
    except KeyboardInterrupt as exc:  # a ReportInterrupted is handled in _report
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else int(signal.SIGINT)
        typer.secho(f"interrupted ({signal.Signals(signum).name}) before any report ran", fg=typer.colors.RED, err=True)
        raise typer.Exit(128 + signum) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _report(
    ctx: typer.Context,
    data_dir: Path | None,
    out_dir: Path,
    notebooks_dir: Path | None,
    hide_code: bool,
    variants: bool,
    mask_ids: bool,
    cell_timeout: int = 600,
    workers: int | None = None,
    force: bool = False,
    pdf: bool = False,
    engine: str | None = None,
) -> None:
    """The ``report`` command without its signal handling (see ``report``)."""
    import os
    from dataclasses import replace

    from bsc_toolkit.data.description import DescriptionError
    from bsc_toolkit.data.io import ensure_default_dataset
    from bsc_toolkit.data.privacy import MASK_KEY_ENV_VAR, MaskKeyError, mask_key, new_mask_key
    from bsc_toolkit.data.schemas import DataValidationError
    from bsc_toolkit.engine import EngineError
    from bsc_toolkit.report import (
        ReportError,
        ReportIndexError,
        ReportInterrupted,
        check_output_dir,
        packaged_notebooks_dir,
        plan_reports,
        run_reports,
    )
    from bsc_toolkit.report_cache import CACHE_FOLDER, RunInputs, validate_for_reports
    from bsc_toolkit.report_params import check_scorecards, declared_parameters, set_where_declared

    notebook_args, params = _split_report_args(list(ctx.args))
    if data_dir is not None:
        params["data_dir"] = str(data_dir)
    try:
        notebooks_dir = notebooks_dir if notebooks_dir is not None else packaged_notebooks_dir()
        jobs = plan_reports(notebook_args or None, notebooks_dir=notebooks_dir, parameters=params, variants=variants)
    except ReportError as exc:
        unknown_data_dir = data_dir is not None and "unknown parameter 'data_dir'" in str(exc)
        hint = "\n(--data-dir gives the parameter data_dir)" if unknown_data_dir else ""
        _fail(f"{exc}{hint}\nno report was run")
    if not jobs:
        _fail(f"no notebooks found in '{notebooks_dir}'")
    jobs = [replace(job, parameters=_absolute_paths(job.parameters)) for job in jobs]
    asked = (
        engine if engine is not None else next((j.parameters["engine"] for j in jobs if "engine" in j.parameters), None)
    )
    given_data = next((j.parameters["data_dir"] for j in jobs if j.parameters.get("data_dir") is not None), None)
    engine = _engine_for(None if asked is None else str(asked), None if given_data is None else Path(given_data))
    try:
        jobs, _ = set_where_declared(jobs, "engine", engine)
    except ReportError as exc:
        _fail(f"{exc}\nno report was run")
    # the reports' max_customers, for the checks before the kernels: "default" when not given, None (-p
    # max_customers null) when a report never samples: the checks then load the data whole, as that report does
    limits = [j.parameters["max_customers"] for j in jobs if "max_customers" in j.parameters]
    max_customers = "default" if not limits else None if None in limits else int(min(limits))
    if mask_ids:
        jobs, unmasked = set_where_declared(jobs, "mask_ids", True)
        for job in unmasked:
            if "data_dir" in declared_parameters(job.notebook):
                _warn(
                    f"--mask-ids: {job.notebook.name} has no mask_ids parameter; report '{job.name}' shows "
                    "customer ids as they are in the data"
                )
    try:
        check_scorecards(jobs)
        check_output_dir(out_dir)
    except ReportError as exc:
        _fail(f"{exc}\nno report was run")
    data_path = next((j.parameters["data_dir"] for j in jobs if j.parameters.get("data_dir") is not None), None)
    # one masking key for the run, whether --mask-ids or the data set's description asks for pseudonyms:
    # the kernels inherit it, so a customer has the same pseudonym in every report (and in the warnings)
    key_added = not os.environ.get(MASK_KEY_ENV_VAR)
    if key_added:
        os.environ[MASK_KEY_ENV_VAR] = new_mask_key()
    try:
        try:
            if mask_ids:
                mask_key()  # a key the user set must be usable
        except MaskKeyError as exc:
            _fail(f"{exc}\nno report was run")
        if data_path is None:
            ensure_default_dataset()
        # validate once, before any kernel starts: invalid data stop here with every problem listed
        # (mask_ids None: as the data set's description says); a check of the same data by the same
        # package is read from the cache without loading the data
        inputs = RunInputs(exclude=[out_dir])  # the source and data hashed once, for the checks and the reports
        try:
            validation = validate_for_reports(
                data_path,
                [job.notebook.stem for job in jobs],
                mask_ids=mask_ids,
                cache_dir=out_dir / CACHE_FOLDER,
                force=force,
                inputs=inputs,
                engine=engine,
                max_customers=max_customers,
            )
        except (DataValidationError, DescriptionError, FileNotFoundError) as exc:
            _fail(f"the data set is not valid, no report was run:\n{exc}")
        except EngineError as exc:
            _fail(f"the {engine} engine cannot read the data set, no report was run:\n{exc}")
        for warning in validation.warnings:
            _warn(str(warning))
        index_error = None
        try:
            results = run_reports(
                jobs,
                out_dir=out_dir,
                hide_code=hide_code,
                data=validation,
                cell_timeout=cell_timeout,
                workers=workers,
                force=force,
                pdf=pdf,
                inputs=inputs,
            )
        except ReportIndexError as exc:
            results, index_error = exc.results, str(exc)
        except ReportInterrupted as exc:
            _echo_report_results(exc.results)
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            raise typer.Exit(exc.exit_code) from None
        except ReportError as exc:
            _fail(f"{exc}\nno report was run")
    finally:
        if key_added:
            os.environ.pop(MASK_KEY_ENV_VAR, None)
    _echo_report_results(results)
    for problem in dict.fromkeys(r.pdf_error for r in results if r.pdf_error):  # each reason once
        _warn(problem)
    if index_error is not None:
        _fail(index_error)
    cached = sum(r.cached for r in results)
    if cached:
        typer.echo(
            f"{cached} of {len(results)} report(s) cached: nothing they depend on changed (--force runs them again)"
        )
    typer.echo(f"index: {(out_dir / 'index.html')}")
    failed = [r for r in results if not r.ok]
    partial = [r for r in results if r.ok and r.section_errors]
    problems = []
    if failed:
        problems.append(f"{len(failed)} of {len(results)} report(s) failed; previous versions were kept")
    if partial:
        names = ", ".join(f"{r.job.name} ({len(r.section_errors)})" for r in partial)
        problems.append(
            f"{len(partial)} of {len(results)} report(s) written with sections that could not be computed: {names}"
        )
    if problems:
        _fail("; ".join(problems))


def _warn(message: str) -> None:
    typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)


def _echo_report_results(results) -> None:
    """One line per report: ok (time, file), ok* (written, with the sections that could not be
    computed on stderr), cached / cached* (reused: the time of the run that wrote it), n/a (what it
    needs) or FAILED (the error, on stderr)."""
    from bsc_toolkit.report_index import section_errors_text

    for res in results:
        pdf = f"  (+ {res.pdf_path.name})" if res.pdf_path is not None else ""
        if res.not_applicable is not None:
            typer.echo(f"n/a     {res.job.name:<40} not applicable: needs {res.not_applicable}")
        elif res.ok and res.section_errors:
            status = "cached*" if res.cached else "ok*"
            typer.echo(f"{status:<8}{res.job.name:<40} {res.seconds:6.1f} s  {res.html_path}{pdf}")
            typer.secho(f"        {section_errors_text(res.section_errors)}", fg=typer.colors.YELLOW, err=True)
        elif res.ok:
            status = "cached" if res.cached else "ok"
            typer.echo(f"{status:<8}{res.job.name:<40} {res.seconds:6.1f} s  {res.html_path}{pdf}")
        else:
            typer.secho(f"FAILED  {res.job.name:<40} {res.seconds:6.1f} s", fg=typer.colors.RED, err=True)
            typer.secho(f"        {res.error}", fg=typer.colors.RED, err=True)


if __name__ == "__main__":  # pragma: no cover
    app()
