"""Arrow's allocator on Linux: whichever of ctct and pyarrow a process loads first, the frames go
to the pool that hands freed memory back (jemalloc), unless the environment or the code chose one."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pool is chosen on Linux only")

POOL = "import pyarrow; print(pyarrow.default_memory_pool().backend_name)"


def pool_after(code: str, **environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    answer = subprocess.run(
        [sys.executable, "-c", f"{code}; {POOL}"], env=env | environment, capture_output=True, text=True, check=True
    )
    return answer.stdout.strip()


LOADS = ["import ctct", "import pyarrow, pandas; import ctct"]


@pytest.mark.parametrize("code", LOADS, ids=["ctct first", "pyarrow first"])
def test_the_console_allocates_frames_with_jemalloc(code):
    assert pool_after(code) == "jemalloc"


def test_a_pool_chosen_in_the_environment_is_kept():
    assert pool_after("import ctct", ARROW_DEFAULT_MEMORY_POOL="system") == "system"


def test_a_pool_chosen_in_code_is_kept():
    assert pool_after("import pyarrow; pyarrow.set_memory_pool(pyarrow.system_memory_pool()); import ctct") == "system"
