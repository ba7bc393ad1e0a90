"""``python -m course.book``: build the book into artifacts/book/."""

import sys

from course.book import main

sys.exit(main())
