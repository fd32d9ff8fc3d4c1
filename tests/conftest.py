"""Suite-wide fixtures: the compile cache goes to a temporary directory, never the user's home."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_compile_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("QCOMP_CACHE_DIR", str(tmp_path_factory.mktemp("qcomp-cache")))
    yield
    mp.undo()
