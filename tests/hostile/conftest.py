"""The hostile tests drive the rater's and reviewer's pages: they share those folders' fixtures."""

from tests.exam.conftest import exam_web, sitting  # noqa: F401
from tests.web.conftest import rating_link, web_app  # noqa: F401
from tests.web.test_coordinator import cohort  # noqa: F401
