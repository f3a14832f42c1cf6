"""Built-in experiments, their presets and reference numbers (data files beside this module)."""
