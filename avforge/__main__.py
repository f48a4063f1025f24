import sys

from avforge.cli.main import main

sys.exit(main())
