"""Writing exercises: the source format, starters, the notebooks' setup cells."""
