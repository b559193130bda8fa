"""`python -m interactive_ext.cli`, as `jupyter interactive-task`."""

import sys

from .main import main

sys.exit(main())
