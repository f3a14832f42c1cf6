"""Reports and figures, drawn from result files only (NumPy and matplotlib; never torch)."""
