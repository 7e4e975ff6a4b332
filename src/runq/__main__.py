import sys

from runq.client.main import main

sys.exit(main())
