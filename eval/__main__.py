import sys

from eval.report import main

sys.exit(main())
