import sys

from xcurate.cli import main

sys.exit(main())
