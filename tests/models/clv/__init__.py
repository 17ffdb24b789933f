"""Tests for bsc_toolkit.models.clv (RFM summary, BG/NBD, Gamma-Gamma, CLV); constants shared by them."""

#: BG/NBD and Gamma-Gamma parameters used as the known truth in simulations (close to CDNOW's).
TRUE_BG = dict(r=0.25, alpha=4.0, a=0.8, b=2.5)
TRUE_GG = dict(p=6.0, q=3.8, gamma=15.0)
