"""Interactive what-if controls for JupyterLab (ipywidgets): pure glue, no model logic.

A report notebook keeps its static what-if (tables and figures, what the HTML report shows) and adds one
line that, in JupyterLab only, displays a form calling the SAME package function::

    form = what_if_controls(run_what_if, deltas=(-2.0, 2.0, 0.5), value=1.0)  # run_what_if(delta=...) -> table

When is it interactive? :func:`interactive` is True only when all three hold:

* the code runs in an IPython **kernel** (a notebook/JupyterLab frontend that can render widgets; a plain
  ``python`` or terminal ``ipython`` session has no kernel and gets nothing);
* the environment variable ``BSC_REPORT`` is not ``"1"``: ``bsc report`` sets it for the kernels it starts,
  because a static HTML report cannot run a widget (it would show a dead form); the report keeps its static
  what-if instead;
* ``ipywidgets`` imports.

Otherwise :func:`what_if_controls` displays nothing and returns None, so a notebook can call it
unconditionally.

The form: a delta slider (rating points), optional driver, segment and horizon dropdowns, a "Compute" button
(each computation takes about a second, so it does not run on every slider move) and an output area. The
output area shows what ``compute(...)`` returns (a table, a str shown as Markdown, a figure, a tuple of those); a
``ValueError`` (the package's :class:`~bsc_toolkit.models._base.NotEstimableError` included) shows its message
as a sentence, any other exception its type and message, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from bsc_toolkit.formatting import escape_html

__all__ = ["interactive", "what_if_controls", "build_what_if_controls", "ALL_CUSTOMERS"]

#: Label of the segment choice meaning "no segment filter" (passed to ``compute`` as ``segment=None``).
ALL_CUSTOMERS = "all customers"

#: The environment variable ``bsc report`` sets to "1" in the kernels it starts.
REPORT_ENV = "BSC_REPORT"


def _in_kernel() -> bool:
    """True when running inside an IPython kernel (not a plain interpreter or terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def interactive() -> bool:
    """Whether widgets should be shown.

    Returns
    -------
    bool
        True only inside an IPython kernel, when ``BSC_REPORT`` is not ``"1"`` (``bsc report`` sets it for the
        kernels it starts: a static HTML report keeps its static what-if) and ``ipywidgets`` imports.
    """
    if os.environ.get(REPORT_ENV) == "1":
        return False
    if not _in_kernel():
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    return True


def _options(choices: Sequence[Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs from a list of values or of (label, value) pairs."""
    out: list[tuple[str, Any]] = []
    for c in choices:
        if isinstance(c, tuple) and len(c) == 2:
            out.append((str(c[0]), c[1]))
        else:
            out.append((str(c), c))
    return out


def _error_html(exc: BaseException) -> str:
    """A readable message for an exception (no traceback)."""
    if isinstance(exc, ValueError):
        head = "This what-if cannot be computed"
        msg = str(exc) or type(exc).__name__
    else:
        head = f"The computation failed ({type(exc).__name__})"
        msg = str(exc) or "no message"
    return (
        '<div class="bsc-whatif-error" role="alert" style="border-left:4px solid #b00020;padding:4px 8px">'
        f"<strong>{escape_html(head)}:</strong> {escape_html(msg)}</div>"
    )


def _append(output: Any, obj: Any) -> None:
    """Append ``obj``'s display data to an Output widget.

    Formatted with the running shell's formatter (in a kernel: the one that knows matplotlib figures), else
    with a standalone one: unlike ``Output.append_display_data`` this never creates a global IPython shell
    (which would make ``get_ipython()`` return it for the rest of the process).
    """
    from IPython import get_ipython
    from IPython.core.formatters import DisplayFormatter

    ip = get_ipython()
    formatter = ip.display_formatter if ip is not None else DisplayFormatter()
    data, metadata = formatter.format(obj)
    output.outputs += ({"output_type": "display_data", "data": data, "metadata": metadata},)


def build_what_if_controls(
    compute: Callable[..., Any],
    *,
    deltas: tuple[float, float, float],
    drivers: Sequence[Any] | None = None,
    segments: Sequence[Any] | None = None,
    horizons: Sequence[int] | range | None = None,
    title: str | None = None,
    value: float | None = None,
) -> Any:
    """Build (without displaying) the what-if form; see :func:`what_if_controls` for the parameters.

    Returns
    -------
    ipywidgets.VBox
        The form, with attributes ``controls`` (dict: name -> widget, for the names passed to ``compute``),
        ``button`` (the Compute button), ``output`` (the Output area) and ``run()`` (what a click does).
    """
    import ipywidgets as w
    from IPython.display import HTML, Markdown

    lo, hi, step = (float(x) for x in deltas)
    if not (lo < hi and step > 0):
        raise ValueError(f"deltas must be (min, max, step) with min < max and step > 0, got {deltas!r}")
    start = 1.0 if value is None else float(value)
    start = min(max(start, lo), hi)
    style = {"description_width": "110px"}
    layout = w.Layout(width="420px")
    controls: dict[str, Any] = {
        "delta": w.FloatSlider(
            value=start,
            min=lo,
            max=hi,
            step=step,
            description="Change (points)",
            continuous_update=False,
            readout_format="+.2f",
            style=style,
            layout=layout,
        )
    }
    if drivers is not None:
        opts = _options(drivers)
        if not opts:
            raise ValueError("drivers is empty: give (label, value) pairs or leave it None")
        controls["driver"] = w.Dropdown(options=opts, index=0, description="Rating", style=style, layout=layout)
    if segments is not None:
        opts = [(ALL_CUSTOMERS, None)] + [o for o in _options(segments) if o[1] is not None]
        controls["segment"] = w.Dropdown(options=opts, index=0, description="Segment", style=style, layout=layout)
    if horizons is not None:
        if isinstance(horizons, range):
            if len(horizons) == 0:
                raise ValueError("horizons is an empty range")
            controls["horizon"] = w.IntSlider(
                value=horizons[0],
                min=horizons[0],
                max=horizons[-1],
                step=horizons.step,
                description="Horizon",
                continuous_update=False,
                style=style,
                layout=layout,
            )
        else:
            opts = _options(horizons)
            if not opts:
                raise ValueError("horizons is empty: give a list of horizons, a range, or leave it None")
            controls["horizon"] = w.Dropdown(options=opts, index=0, description="Horizon", style=style, layout=layout)

    button = w.Button(description="Compute", button_style="primary", icon="calculator", tooltip="Run the what-if")
    status = w.HTML(value="")
    output = w.Output(layout=w.Layout(min_height="2em"))

    def _show(obj: Any) -> None:
        if obj is None:
            return
        for item in obj if isinstance(obj, (tuple, list)) else (obj,):
            if item is not None:
                _append(output, Markdown(item) if isinstance(item, str) else item)

    def run(*_: Any) -> None:
        kwargs = {name: ctl.value for name, ctl in controls.items()}
        output.outputs = ()
        button.disabled = True
        status.value = "<em>Computing…</em>"
        result: Any = None
        error: Exception | None = None
        try:
            # In a kernel, whatever compute() displays itself lands in the output area too. The exception is
            # caught INSIDE the block: the Output widget would otherwise print its traceback.
            with output:
                try:
                    result = compute(**kwargs)
                except Exception as exc:  # noqa: BLE001 - every failure is shown as a message, not a traceback
                    error = exc
            if error is not None:
                output.outputs = ()
                _append(output, HTML(_error_html(error)))
            else:
                _show(result)
        finally:
            status.value = ""
            button.disabled = False

    button.on_click(run)
    children: list[Any] = []
    if title:
        children.append(w.HTML(value=f"<strong>{escape_html(title)}</strong>"))
    children.extend(controls.values())
    children.append(w.HBox([button, status]))
    children.append(output)
    box = w.VBox(children)
    box.controls = controls
    box.button = button
    box.output = output
    box.run = run
    return box


def what_if_controls(
    compute: Callable[..., Any],
    *,
    deltas: tuple[float, float, float],
    drivers: Sequence[Any] | None = None,
    segments: Sequence[Any] | None = None,
    horizons: Sequence[int] | range | None = None,
    title: str | None = None,
    value: float | None = None,
) -> Any | None:
    """Display an interactive what-if form in JupyterLab; nothing in a report or outside a kernel.

    Parameters
    ----------
    compute : callable
        Called on "Compute" with keyword arguments ``delta`` (float, rating points) and, for each control that
        was given, ``driver``, ``segment`` (None for "all customers") and ``horizon``. What it returns is shown
        in the output area (a DataFrame/Table, a str (rendered as Markdown), a matplotlib figure, or a tuple/list
        of those; None shows nothing). A raised exception is shown as its message (ValueError, NotEstimableError), not a
        traceback.
    deltas : (float, float, float)
        ``(min, max, step)`` of the delta slider, in rating points.
    drivers : sequence, optional
        Dropdown choices, ``(label, value)`` pairs (``value`` passed as ``driver``; e.g.
        ``("overall satisfaction (csat)", None)``) or plain values.
    segments : sequence, optional
        Segment names (or ``(label, value)`` pairs); "all customers" (``segment=None``) is added first.
    horizons : sequence of int or range, optional
        A list gives a dropdown, a ``range`` an integer slider.
    title : str, optional
        A heading above the form (escaped).
    value : float, optional
        Initial delta (default +1, clipped to the slider's range).

    Returns
    -------
    ipywidgets.VBox or None
        The displayed form (see :func:`build_what_if_controls` for its attributes), or None when
        :func:`interactive` is False. Assign it (``form = what_if_controls(...)``): a cell that ends with the
        bare call would show the form a second time in JupyterLab.
    """
    if not interactive():
        return None
    from IPython.display import display

    box = build_what_if_controls(
        compute, deltas=deltas, drivers=drivers, segments=segments, horizons=horizons, title=title, value=value
    )
    display(box)
    return box
