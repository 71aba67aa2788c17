"""Desktop app: PySide6 + pyqtgraph window over the live engine (the only package that imports Qt).

Entry point: ``seld_live.gui.app.run_app(args)``. The modules ``palette`` and ``history`` hold no Qt so
they can be tested and reused without a display.
"""
