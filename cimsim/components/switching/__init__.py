"""Stochastic-LLG switching of a perpendicular STT-MTJ (docs/mtj_model.md).

- ``table``: the shipped P_sw(I/I_c0, Delta, t_p/tau_D) table, its monotone projection and interpolation;
- ``calibrate``: regenerates the table with the ``cmtj`` package (optional extra ``physics``);
- ``macrospin``: an independent vectorized numpy stochastic-LLG solver used to validate it;
- ``validate``: random off-grid comparisons of the two.
"""
