"""Frontends: import models into the IR (NIR files, torch modules) and export them (NIR).

:func:`load_model` opens any model file by suffix through :data:`LOADERS`.
"""
