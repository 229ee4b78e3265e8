"""Runtime tests of the payments function (awslambdaric + the local Runtime API)."""

import pytest

# The helpers assert on every invocation; let pytest explain their failures too.
pytest.register_assert_rewrite("tests.payments.helpers")
