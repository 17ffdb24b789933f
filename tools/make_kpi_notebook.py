"""Regenerate notebooks/customer_kpis.ipynb (kept so the notebook's source is reviewable as Python)."""
import nbformat as nbf
from pathlib import Path

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("# Customer KPI dashboard\n\nThe customer perspective of the Balanced Scorecard asks *how do customers see us?* "
       "Managers translate that into measures of what customers care about (**time, quality, performance & service, cost**) "
       "and into outcome measures: satisfaction (CSAT), Net Promoter Score, retention and churn, acquisition, "
       "customer profitability and market share. This report computes them per period, with confidence intervals."),
    code('data_dir = None  # folder with customers/surveys/transactions files (None: bundled synthetic data)\n'
         'freq = "Q"  # period frequency: "Q" quarters, "M" months\n'
         'segment_col = "segment"  # customer column to break KPIs down by\n'
         'period = None  # period to headline, e.g. "2025Q4" (None: the latest)\n'
         'market_size_usd = None  # total market revenue per period in USD (None: skip market share)\n'
         'title = "Customer KPI dashboard"',
         metadata={"tags": ["parameters"]}),
    code('import matplotlib.pyplot as plt\n'
         'import pandas as pd\n'
         'from IPython.display import Markdown, display\n\n'
         'from bsc_toolkit import metrics\n'
         'from bsc_toolkit.data.io import load_dataset\n'
         'from bsc_toolkit.formatting import escape_markdown, markdown_code\n'
         'from bsc_toolkit.plots import kpis as kplots\n\n'
         'pd.set_option("display.precision", 3)\n'
         'data = load_dataset(data_dir)\n'
         'surveys = data.surveys.merge(data.customers[["customer_id", segment_col]], on="customer_id", how="left")\n'
         'kpi = metrics.kpi_summary(data.customers, data.surveys, data.transactions, freq=freq)\n'
         'headline = metrics.compare_periods(kpi, period)\n'
         'current = kpi["period"].max() if period is None else pd.Period(period, freq)\n'
         'display(Markdown(\n'
         '    f"## {escape_markdown(title)}: {current}\\n\\n"\n'
         '    f"Data: {markdown_code(data.source)}: {len(data.customers):,} customers, {len(data.surveys):,} survey responses, "\n'
         '    f"{len(data.transactions):,} transactions, periods {kpi[\'period\'].min()} to {kpi[\'period\'].max()}."\n'
         '))\n'
         'headline'),
    md("## Satisfaction (CSAT)\n\nMean overall satisfaction (1-10) with a 95% t-interval, and the *top-2-box* share "
       "(scores 9-10) with a Wilson interval. Overlapping intervals between periods mean the change may be noise."),
    code('csat = metrics.csat_summary(surveys, freq=freq)\n'
         'csat_seg = metrics.csat_summary(surveys, by=segment_col, freq=freq)\n'
         'fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))\n'
         'kplots.plot_kpi_trend(csat, "csat_mean", ci=("csat_mean_ci_low", "csat_mean_ci_high"), ylabel="CSAT mean (1-10)", ax=axes[0])\n'
         'kplots.plot_kpi_trend(csat_seg, "csat_top2_box", hue=segment_col, ci=("csat_top2_box_ci_low", "csat_top2_box_ci_high"), percent=True, ylabel="top-2-box share", ax=axes[1])\n'
         'fig.tight_layout()\n'
         'csat'),
    md("## Net Promoter Score\n\nNPS = % promoters (9-10) minus % detractors (0-6), on -100..100. The interval uses the "
       "multinomial variance of a difference of proportions, $\\mathrm{Var} = (p_P + p_D - (p_P-p_D)^2)/n$: with a few hundred "
       "responses per period an NPS moves several points by chance alone."),
    code('nps_all = metrics.nps(surveys, freq=freq)\n'
         'nps_seg = metrics.nps(surveys, by=segment_col, freq=freq)\n'
         'fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))\n'
         'kplots.plot_nps_trend(nps_all, ax=axes[0])\n'
         'kplots.plot_nps_trend(nps_seg, hue=segment_col, ax=axes[1])\n'
         'fig.tight_layout()\n'
         'nps_all'),
    md("## Retention, churn and acquisition\n\nChurn rate = customers lost during the period / customers at its start "
       "(Wilson 95% interval); acquisition = new customers in the period."),
    code('ret = metrics.retention(data.customers, by=segment_col, freq=freq, start=kpi["period"].min(), end=kpi["period"].max())\n'
         'acq = metrics.acquisition(data.customers, by="channel" if "channel" in data.customers else None, freq=freq, start=kpi["period"].min(), end=kpi["period"].max())\n'
         'fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))\n'
         'kplots.plot_retention(ret, hue=segment_col, ax=axes[0])\n'
         'kplots.plot_kpi_trend(acq, "acquired", hue="channel" if "channel" in acq else None, ylabel="new customers", ax=axes[1])\n'
         'fig.tight_layout()\n'
         'ret.pivot(index="period", columns=segment_col, values="churn_rate")'),
    md("## Customer profitability\n\nProfit per customer = revenue - cost of goods - cost to serve over the whole window. "
       "The cumulative profitability (\"whale\") curve ranks customers from most to least profitable: its peak above 100% "
       "shows how much profit the unprofitable tail gives back."),
    code('prof = metrics.customer_profitability(data.transactions, data.customers, by=segment_col)\n'
         'whale = metrics.whale_curve(prof)\n'
         'peak = whale.loc[whale["cumulative_profit_share"].idxmax()]\n'
         'fig, axes = plt.subplots(1, 2, figsize=(12, 4))\n'
         'kplots.plot_whale_curve(whale, ax=axes[0])\n'
         'by_seg = prof.groupby(segment_col).agg(customers=("customer_id", "size"), revenue_usd=("revenue_usd", "sum"), profit_usd=("profit_usd", "sum"), unprofitable_share=("profit_usd", lambda s: (s < 0).mean()))\n'
         'by_seg["profit_per_customer_usd"] = by_seg["profit_usd"] / by_seg["customers"]\n'
         'by_seg["profit_per_customer_usd"].plot.bar(ax=axes[1], color="tab:green")\n'
         'axes[1].set_ylabel("profit per customer (USD)")\n'
         'fig.tight_layout()\n'
         'display(Markdown(f"The most profitable **{peak.customer_share:.0%}** of customers earn **{peak.cumulative_profit_share:.0%}** of total profit; "\n'
         '                 f"**{(prof.profit_usd < 0).mean():.0%}** of customers are unprofitable."))\n'
         'by_seg'),
    md("## What customers care about: time, quality, performance & service, cost\n\nMean attribute ratings (1-10) per period. "
       "Which of them *drives* satisfaction is a modelling question, answered in the service-profit-chain report."),
    code('drivers = kpi[["period", "time_mean", "quality_mean", "service_mean", "cost_mean"]].melt("period", var_name="driver", value_name="mean_rating")\n'
         'ax = kplots.plot_kpi_trend(drivers, "mean_rating", hue="driver", ylabel="mean rating (1-10)")'),
    md("## Market share"),
    code('if market_size_usd is None:\n'
         '    display(Markdown("No market size given (`market_size_usd = None`): market share is skipped. "\n'
         '                     "Pass the total market revenue per period, e.g. `-p market_size_usd 20000000`."))\n'
         'else:\n'
         '    share = metrics.market_share(data.transactions, market_size_usd, freq=freq)\n'
         '    kplots.plot_kpi_trend(share, "market_share", percent=True, ylabel="revenue market share")\n'
         '    display(share)'),
    md("## Caveats\n\n- KPIs describe; they do not explain. A falling churn rate next to a rising CSAT is consistent with, "
       "but not proof of, satisfaction driving retention (see the link-model reports).\n"
       "- Survey KPIs rely on who answers: non-response that is related to satisfaction biases CSAT and NPS.\n"
       "- Period-to-period changes inside the confidence intervals are not evidence of change."),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nb.metadata["bsc"] = {"title": "Customer KPI dashboard", "order": 0}
out = Path(__file__).resolve().parents[1] / "notebooks" / "customer_kpis.ipynb"
nbf.write(nb, out)
print(out)
