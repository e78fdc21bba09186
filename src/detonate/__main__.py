import sys

from detonate.cli.main import main

sys.exit(main(sys.argv[1:]))
