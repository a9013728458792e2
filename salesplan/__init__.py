"""salesplan: sales target achievement plans.

The core package: store, imports, engine and command line. It never imports the UI
(streamlit, plotly); the import-linter contract in pyproject.toml enforces that.
"""

__version__ = "0.1.0"
