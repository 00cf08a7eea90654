#!/usr/bin/env python3
"""Runs every integration suite against the stack scripts/test started."""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, HERE)

import harness  # noqa: E402

modules = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "test_*.py")))
sys.exit(harness.main(os.environ.get("KEYROTA_SUITE_NAME", "integration"), modules))
