#!/usr/bin/env python3
"""Runs the end-to-end tests: every test_* function of tests/e2e/test_*.py,
or those whose name contains one of the arguments. Needs root.
Ends with the line "N passed, N failed". A test that cannot run where it
is (ka.NotHere) is neither: its name and the reason are printed as SKIP;
so is, inside a guest of the kernel matrix (tests/vm), a test marked
ka.same_on_every_kernel: the host's run has it."""
import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ka import NotHere, in_vmtest_guest  # noqa: E402 (after the path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    wanted = sys.argv[1:]
    guest = in_vmtest_guest()
    passed = failed = 0
    for fname in sorted(os.listdir(here)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        mod = importlib.import_module(fname[:-3])
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            if wanted and not any(w in name for w in wanted):
                continue
            test = getattr(mod, name)
            if guest and getattr(test, "same_on_every_kernel", False):
                print(f"SKIP {name}: same on every kernel (ka.same_on_every_kernel): "
                      "the host's run has it", flush=True)
                continue
            start = time.monotonic()
            try:
                test()
                passed += 1
                print(f"PASS {name} ({time.monotonic() - start:.1f}s)", flush=True)
            except NotHere as e:
                print(f"SKIP {name}: {e}", flush=True)
            except Exception as e:
                failed += 1
                print(f"FAIL {name} ({time.monotonic() - start:.1f}s): {e}", flush=True)
                if os.environ.get("VERBOSE"):
                    traceback.print_exc()
    print(f"e2e: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
