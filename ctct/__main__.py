import sys

from ctct.cli import main

sys.exit(main())
