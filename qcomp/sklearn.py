"""Public name of the sklearn bridge: ``qcomp.sklearn`` is :mod:`qcomp.bridges.sklearn`."""

from __future__ import annotations

import sys

from .bridges import qml_models as _qml_models
from .bridges import sklearn as _impl

# the QML benchmark study's estimators (qcomp.bridges.qml_models) are public here too
for _name in _qml_models.STUDY_MODELS:
    setattr(_impl, _name, getattr(_qml_models, _name))

sys.modules[__name__] = _impl
