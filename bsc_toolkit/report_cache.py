"""The execution cache of ``bsc report``: a report whose inputs did not change is not run again.

A report is reused when its **key** is the one recorded when it was written, and its HTML and
tables are still the files that run wrote (their SHA-256 is checked). The key is the SHA-256 of

- the notebook file's bytes;
- the job's name, title and parameters (canonical JSON);
- the package **source** (:func:`source_hash`): every file under ``bsc_toolkit/`` (modules, YAML,
  shipped notebooks; not ``__pycache__``), sorted by relative path, with its bytes. Not the version
  string: an edit without a version bump counts;
- the **input data** (:func:`input_hash`): every regular file under the data set's folder (the
  default synthetic data set's when ``data_dir`` is None), sorted, with its path, size and bytes,
  plus the table files its ``dataset.yaml`` names elsewhere; likewise every other ``*_dir`` /
  ``*_path`` parameter (given, or a text default in the parameters cell) that names an existing
  file or folder, and the CDNOW folder :func:`~bsc_toolkit.data.datasets.find_cdnow` finds for a
  ``cdnow_dir`` left at None. Files a notebook reads without naming them in a parameter are not
  seen;
- the export options (``hide_code``) and the versions of Python and of the libraries that compute
  and render the reports (numpy, pandas, scipy, statsmodels, matplotlib, nbconvert, ...);
- with pseudonymised customer ids (``mask_ids``, or the data set's description asks for them), a
  fingerprint of ``$BSC_MASK_KEY``: pseudonyms made with another key must not be reused (without
  a key in the environment, masked reports are never cached).

Entries live in ``out_dir/.cache/<report name>.json`` (the key, the result of the run: sections
that could not be computed, seconds; the HTML's and tables' SHA-256). The data checks ``bsc
report`` does before any kernel starts (load, features, which reports apply) are cached the same
way in ``out_dir/.cache/validation-<key>.json`` (:func:`validate_for_reports`), so a run where
nothing changed does not load the data at all. A cache file that cannot be read, or that does not
match, is ignored (the report runs); a cache that cannot be written costs the next run time, never
this run's reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bsc_toolkit._atomic import atomic_write_text
from bsc_toolkit.report_types import ReportJob, ReportResult

__all__ = [
    "CACHE_FOLDER",
    "CachedReport",
    "JobInputs",
    "ReportCache",
    "RunInputs",
    "Validation",
    "canonical_json",
    "input_hash",
    "source_hash",
    "validate_for_reports",
]

#: The cache's folder inside the report folder.
CACHE_FOLDER = ".cache"
#: Bumped when the key or the entries change meaning: older entries are then ignored.
CACHE_FORMAT = 1
#: Libraries whose versions are part of every key (an upgrade can change figures or pages).
ENVIRONMENT_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "matplotlib",
    "ipykernel",
    "nbconvert",
    "nbformat",
    "nbclient",
    "papermill",
    "mistune",
    "jinja2",
    "seaborn",
    "lifelines",
    "ipywidgets",
)
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------------------- hashing
def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, non-JSON values (paths...) as tagged text."""

    def default(obj: Any) -> Any:
        if isinstance(obj, Path):
            return str(obj)
        return {"__type__": type(obj).__name__, "repr": repr(obj)}

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_files(files: Iterable[tuple[str, Path]]) -> str:
    """SHA-256 over ``(name, file)`` pairs in the order given: each name, size and bytes."""
    digest = hashlib.sha256()
    for name, path in files:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest.update(f"{name}\0{size}\0".encode())
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _regular_files(folder: Path, exclude: Sequence[Path] = ()) -> list[Path]:
    """Every regular file under ``folder``, sorted by relative path; ``__pycache__`` and ``exclude`` left out."""
    excluded = [e.resolve() for e in exclude]
    found = []
    for path in folder.rglob("*"):
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo") or not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved == e or e in resolved.parents for e in excluded):
            continue
        found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def package_folder() -> Path:
    """The folder of the installed ``bsc_toolkit`` package."""
    return Path(__file__).resolve().parent


def source_hash(root: str | Path | None = None) -> str:
    """SHA-256 of the package's source: every file under ``root`` (default: the ``bsc_toolkit`` folder).

    Files are taken sorted by relative path, each with that path, its size and its bytes;
    ``__pycache__`` folders and compiled files are left out. The version string plays no part.
    """
    folder = Path(root) if root is not None else package_folder()
    return _hash_files((p.relative_to(folder).as_posix(), p) for p in _regular_files(folder))


def _description_file(path: Path) -> Path | None:
    from bsc_toolkit.data.description import DESCRIPTION_FILE

    if path.is_file():
        return path if path.suffix.lower() in (".yaml", ".yml") else None
    described = path / DESCRIPTION_FILE
    return described if described.is_file() else None


def _described_tables(path: Path) -> list[Path] | None:
    """The table files a data set's ``dataset.yaml`` names; None when it has none (no description,
    one that does not load, or one without ``tables``: the tables are then found in its folder).

    A glob brings every file it matches now. A table in a DuckDB database file brings that file. A
    table in any other database (``connection: postgres://...``) can change without a file changing:
    it brings a marker unique to this process, so reports of such a data set are never reused from
    the cache (each run reads the database again).
    """
    described = _description_file(path)
    if described is None:
        return None
    from bsc_toolkit.data.description import DatabaseTable, load_description

    files: list[Path] = []
    try:
        description = load_description(described)
        if not description.tables:
            return None
        for table in ("customers", "surveys", "transactions"):
            source = description.table_source(table)
            if isinstance(source, DatabaseTable):
                database = _duckdb_file(source.url)
                files.append(database if database is not None else _unrepeatable_marker())
            elif source is not None:
                files.extend(description.table_files(table))
    except Exception:  # noqa: BLE001 - an invalid description fails the data checks; here it only adds no file
        return None
    return [f for f in dict.fromkeys(files) if f.is_file()]


def _duckdb_file(url: str) -> Path | None:
    """The database file of a ``duckdb://`` URL (None for other databases or an in-memory one)."""
    prefix = "duckdb://"
    if not url.startswith(prefix):
        return None
    rest = url[len(prefix) :].split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


_MARKER: list[Path] = []


def _unrepeatable_marker() -> Path:
    """A file with random bytes, the same for the whole process (so one run hashes it once)."""
    if not _MARKER:
        handle, name = tempfile.mkstemp(prefix="bsc-database-", suffix=".marker")
        with os.fdopen(handle, "wb") as out:
            out.write(os.urandom(32))
        _MARKER.append(Path(name))
    return _MARKER[0]


def input_hash(path: str | Path | None, exclude: Sequence[Path] = (), dataset: bool = False) -> str:
    """SHA-256 of one input: a file, or every regular file under a folder (sorted: path, size, bytes).

    For a data set (``dataset``: the ``data_dir`` of a report, a folder or its ``dataset.yaml``),
    the table files its description names are added wherever they are, and a ``dataset.yaml`` file
    without ``tables`` brings its folder's files (where the tables are then found). A path that
    does not exist hashes as missing (so its appearing changes the hash). ``exclude`` leaves folders
    out (the report folder, when it is inside the data folder).
    """
    if path is None:
        return _sha256("none")
    p = Path(path)
    if not p.exists():
        return _sha256(f"missing:{p}")
    tables = _described_tables(p) if dataset else None
    if p.is_file():
        files = [(p.name, p)]
        if dataset and tables is None and p.suffix.lower() in (".yaml", ".yml"):
            files += [(f.relative_to(p.parent).as_posix(), f) for f in _regular_files(p.parent, exclude) if f != p]
    else:
        files = [(f.relative_to(p).as_posix(), f) for f in _regular_files(p, exclude)]
    inside = {f.resolve() for _, f in files}
    files += [(str(t.resolve()), t) for t in tables or () if t.resolve() not in inside]
    return _hash_files(files)


def _description_masks(path: Path | None) -> bool:
    """Whether the data set's description asks for pseudonymised customer ids."""
    described = _description_file(path) if path is not None and path.exists() else None
    if described is None:
        return False
    from bsc_toolkit.data.description import load_description

    try:
        return bool(load_description(described).privacy.mask_customer_ids)
    except Exception:  # noqa: BLE001 - an invalid description fails the data checks: assume masking (no reuse)
        return True


def mask_fingerprint() -> str | None:
    """A one-way fingerprint of ``$BSC_MASK_KEY`` (None when it is not set: pseudonyms of a random key)."""
    from bsc_toolkit.data.privacy import MASK_KEY_ENV_VAR

    key = os.environ.get(MASK_KEY_ENV_VAR)
    return _sha256(f"bsc-mask-key-fingerprint:{key}") if key else None


def environment() -> dict[str, str]:
    """Python's version and those of :data:`ENVIRONMENT_PACKAGES` (part of every key)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ENVIRONMENT_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


# -------------------------------------------------------------------------------------- job inputs
@dataclass(frozen=True)
class JobInputs:
    """What a job reads, hashed: the notebook, its data inputs, and whether its ids are pseudonymised."""

    notebook_hash: str
    data_hash: str
    data_source: str
    masked: bool


class RunInputs:
    """The hashes of a run: the package source (once) and each data input (once per path; thread-safe).

    Parameters
    ----------
    exclude : sequence of Path
        Folders left out of data hashes (the report folder).
    source : str, optional
        The source hash to use (default: :func:`source_hash` of the package, computed now).
    """

    def __init__(self, exclude: Sequence[Path] = (), source: str | None = None) -> None:
        self.source = source if source is not None else source_hash()
        self.exclude = tuple(exclude)
        self._hashes: dict[str, str] = {}
        self._masks: dict[Path | None, bool] = {}
        self._lock = threading.Lock()
        self._environment: dict[str, str] | None = None

    @property
    def environment(self) -> dict[str, str]:
        if self._environment is None:
            self._environment = environment()
        return self._environment

    def hash_of(self, path: Path | None, dataset: bool = False) -> str:
        """:func:`input_hash` of ``path``, computed once per run."""
        key = f"{dataset}:{path}"
        with self._lock:
            if key not in self._hashes:
                self._hashes[key] = input_hash(path, self.exclude, dataset)
            return self._hashes[key]

    def description_masks(self, path: Path | None) -> bool:
        """Whether the data set at ``path`` asks for pseudonymised customer ids (read once per path)."""
        with self._lock:
            if path not in self._masks:
                self._masks[path] = _description_masks(path)
            return self._masks[path]

    def for_job(self, job: ReportJob) -> JobInputs:
        """Hash what ``job`` reads (see the module docstring)."""
        from bsc_toolkit.report_params import declared_parameters

        declared = declared_parameters(job.notebook)
        params = dict(job.parameters)
        here = job.notebook.resolve().parent  # the kernel's working folder: relative paths start there

        def where(value: str | Path) -> Path:
            path = Path(value).expanduser()
            return path if path.is_absolute() else here / path

        inputs: dict[str, Path | None] = {}
        data_dir = params.get("data_dir")
        data_path = where(data_dir) if isinstance(data_dir, (str, Path)) else _default_data()
        inputs["data_dir"] = data_path
        if "cdnow_dir" in declared and params.get("cdnow_dir") is None:
            from bsc_toolkit.data.datasets import find_cdnow

            inputs["cdnow_dir"] = find_cdnow()
        # other files and folders the notebook is given, or names in its parameters cell
        defaults = {name: d.default for name, d in declared.items() if getattr(d, "literal", False)}
        for name, value in sorted({**defaults, **params}.items()):
            if name in inputs or not name.endswith(("_dir", "_path")) or not isinstance(value, (str, Path)):
                continue
            inputs[name] = where(value) if where(value).exists() else None
        hashes = {name: self.hash_of(path, dataset=name == "data_dir") for name, path in sorted(inputs.items())}
        data_hash = _sha256(canonical_json(hashes))
        mask = params.get("mask_ids")
        masked = bool(mask) if mask is not None else self.description_masks(data_path)
        source = str(data_dir) if isinstance(data_dir, (str, Path)) else f"default synthetic data set ({data_path})"
        return JobInputs(file_sha256(job.notebook), data_hash, source, masked)

    def provenance_fields(self, job: ReportJob, inputs: JobInputs) -> dict[str, Any]:
        """The fields of :class:`bsc_toolkit.report_html.Provenance` known before the run."""
        from bsc_toolkit import __version__

        return {
            "package_version": __version__,
            "source_hash": self.source,
            "data_hash": inputs.data_hash,
            "data_source": inputs.data_source,
            "notebook": job.notebook.name,
            "notebook_hash": inputs.notebook_hash,
            "parameters": dict(job.parameters),
        }


def _default_data() -> Path:
    from bsc_toolkit.data.io import default_data_dir

    return default_data_dir()


# -------------------------------------------------------------------------------------- the cache
@dataclass(frozen=True)
class CachedReport:
    """An entry of the cache that matches: the earlier run's result."""

    seconds: float
    section_errors: tuple[str, ...]


class ReportCache:
    """The reports of a report folder that can be reused, and recording new ones.

    Parameters
    ----------
    out_dir : Path
        The report folder (entries in ``out_dir/.cache``).
    inputs : RunInputs
    hide_code : bool
        The export option (part of the key).
    enabled : bool
        False: nothing is looked up nor recorded.
    force : bool
        Look nothing up (every report runs), but record the new entries.
    """

    def __init__(
        self, out_dir: Path, inputs: RunInputs, hide_code: bool, enabled: bool = True, force: bool = False
    ) -> None:
        self.out = Path(out_dir)
        self.folder = self.out / CACHE_FOLDER
        self.inputs = inputs
        self.hide_code = hide_code
        self.enabled = enabled
        self.force = force

    def key(self, job: ReportJob, inputs: JobInputs) -> str | None:
        """The job's key; None when it cannot be cached (pseudonyms of a key not in the environment)."""
        mask = None
        if inputs.masked:
            mask = mask_fingerprint()
            if mask is None:
                return None
        return _sha256(
            canonical_json(
                {
                    "format": CACHE_FORMAT,
                    "notebook": inputs.notebook_hash,
                    "name": job.name,
                    "title": job.title,
                    "parameters": dict(job.parameters),
                    "source": self.inputs.source,
                    "data": inputs.data_hash,
                    "export": {"hide_code": bool(self.hide_code)},
                    "environment": self.inputs.environment,
                    "mask": mask,
                }
            )
        )

    def entry_path(self, job: ReportJob) -> Path:
        return self.folder / f"{job.name}.json"

    def lookup(self, job: ReportJob, key: str | None) -> CachedReport | None:
        """The earlier run of ``job`` if its key is ``key`` and its files are unchanged, else None."""
        if not self.enabled or self.force or key is None:
            return None
        try:
            entry = json.loads(self.entry_path(job).read_text(encoding="utf-8"))
            if entry.get("format") != CACHE_FORMAT or entry.get("key") != key:
                return None
            files = entry["files"]
            if not isinstance(files, dict) or f"{job.name}.html" not in files:
                return None
            for name, digest in files.items():
                path = self.out / name
                if Path(name).is_absolute() or ".." in Path(name).parts or not path.is_file():
                    return None
                if file_sha256(path) != digest:
                    return None
            result = entry["result"]
            sections = tuple(str(s) for s in result.get("section_errors", []))
            return CachedReport(float(result["seconds"]), sections)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, unreadable or corrupt: the report runs

    def store(self, job: ReportJob, key: str | None, result: ReportResult, files: Sequence[Path] = ()) -> None:
        """Record a report just written (its HTML and ``files``, paths inside the report folder)."""
        if not self.enabled or key is None or result.html_path is None or not result.ok:
            return
        try:
            paths = [Path(result.html_path), *map(Path, files)]
            entry = {
                "format": CACHE_FORMAT,
                "key": key,
                "name": job.name,
                "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "files": {p.resolve().relative_to(self.out.resolve()).as_posix(): file_sha256(p) for p in paths},
                "result": {"seconds": round(result.seconds, 3), "section_errors": list(result.section_errors)},
            }
            atomic_write_text(self.entry_path(job), json.dumps(entry, indent=1) + "\n")
        except (OSError, ValueError):
            pass  # the next run reruns this report: no harm to this one


# ------------------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class Validation:
    """The data checks ``bsc report`` does before any kernel starts, as far as the reports need them.

    Attributes
    ----------
    warnings : tuple of str
        The data set's warnings (plausibility checks), as loading gave them.
    not_applicable : dict
        For each report (notebook stem) that cannot run on the data: what it needs, in words.
    cached : bool
        Read from the cache (the data were not loaded).
    """

    warnings: tuple[str, ...] = ()
    not_applicable: Mapping[str, str] = field(default_factory=dict)
    cached: bool = False


def _not_applicable(data: Any, reports: Iterable[str]) -> dict[str, str]:
    from bsc_toolkit.capabilities import data_features, report_applicability

    features = data_features(data)
    found = {}
    for report in sorted(set(reports)):
        missing = report_applicability(data, report, features)
        if missing:
            found[report] = "; ".join(missing)
    return found


def validate_for_reports(
    data_path: str | Path | None,
    reports: Iterable[str],
    mask_ids: bool = False,
    cache_dir: str | Path | None = None,
    force: bool = False,
    inputs: RunInputs | None = None,
    engine: str = "pandas",
    max_customers: int | str | None = "default",
) -> Validation:
    """Load and check the data set once (or read the result of an earlier identical check).

    On the ``"pandas"`` engine the whole data set is loaded, as the reports load it. On ``"duckdb"``
    or ``"spark"`` it is read as the reports read it (:func:`bsc_toolkit.report_data.load_report_data`):
    a data set of more than ``max_customers`` customers is checked on the engine (count queries over
    every row) and its applicability judged on the sample the models will use, so the check never
    loads the data into memory.

    Parameters
    ----------
    data_path : str or Path, optional
        The data set (None: the default synthetic one, which must exist).
    reports : iterable of str
        The reports (notebook stems) to say applicability for.
    mask_ids : bool
        Load with pseudonymised customer ids (``--mask-ids``); otherwise the description decides.
    cache_dir : str or Path, optional
        Where ``validation-<key>.json`` is read and written (None: no cache).
    force : bool
        Load the data even when a matching result is cached (and record the new one).
    inputs : RunInputs, optional
        The run's hashes (reused for the report keys).
    engine : {"pandas", "duckdb", "spark"}
        Where the data are read (``bsc report --engine``).
    max_customers : int, None or "default"
        The reports' ``max_customers``: ``"default"`` for
        :data:`bsc_toolkit.report_data.DEFAULT_MAX_CUSTOMERS`, None when they never sample (the data
        are then loaded whole, as those reports load them).

    Returns
    -------
    Validation

    Raises
    ------
    DataValidationError, DescriptionError, FileNotFoundError
        As :func:`bsc_toolkit.data.io.load_dataset` (nothing is cached then).
    """
    from bsc_toolkit.data import io as data_io

    reports = sorted(set(reports))
    path = Path(data_path) if data_path is not None else None
    key = None
    if cache_dir is not None:
        inputs = inputs or RunInputs()
        data_folder = path if path is not None else data_io.default_data_dir()
        masked = mask_ids or inputs.description_masks(data_folder)
        mask = mask_fingerprint() if masked else None
        if not masked or mask is not None:
            key = _sha256(
                canonical_json(
                    {
                        "format": CACHE_FORMAT,
                        "kind": "validation",
                        "source": inputs.source,
                        "data": inputs.hash_of(data_folder, dataset=True),
                        "data_path": str(path),
                        "mask_ids": bool(mask_ids),
                        "mask": mask,
                        "reports": reports,
                        "engine": engine,
                        "max_customers": max_customers,
                        "environment": inputs.environment,
                    }
                )
            )
    cache_file = Path(cache_dir) / f"validation-{key}.json" if key is not None and cache_dir is not None else None
    if cache_file is not None and not force:
        try:
            entry = json.loads(cache_file.read_text(encoding="utf-8"))
            if entry.get("format") == CACHE_FORMAT and entry.get("key") == key:
                warnings = tuple(str(w) for w in entry["warnings"])
                not_applicable = {str(k): str(v) for k, v in entry["not_applicable"].items()}
                return Validation(warnings, not_applicable, cached=True)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # missing or corrupt: check the data again
    from bsc_toolkit.report_data import DEFAULT_MAX_CUSTOMERS, load_report_data, may_sample

    limit = DEFAULT_MAX_CUSTOMERS if max_customers == "default" else max_customers
    if not may_sample(data_path, engine, limit):
        data = data_io.load_dataset(data_path, mask_ids=True if mask_ids else None)
    else:
        data = load_report_data(data_path, mask_ids=True if mask_ids else None, engine=engine, max_customers=limit).data
    result = Validation(tuple(str(w) for w in data.warnings), _not_applicable(data, reports))
    if cache_file is not None:
        entry = {
            "format": CACHE_FORMAT,
            "key": key,
            "warnings": list(result.warnings),
            "not_applicable": dict(result.not_applicable),
        }
        try:
            atomic_write_text(cache_file, json.dumps(entry, indent=1) + "\n")
        except OSError:
            pass
    return result
