"""The shipped data (models, array presets, class lists, the demo scene), installed as ``seld_live.assets``.

This file only makes the folder a package, so that importlib.resources finds it in a wheel and in an
editable install alike; seld_live/paths.py reads it.
"""
