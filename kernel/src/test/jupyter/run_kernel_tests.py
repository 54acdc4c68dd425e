"""Runs jupyter_kernel_test's suite (test_hyperlab_kernel.py) and prints one tally line:
'jupyter_kernel_test: P passed, F failed, S skipped'. Exit status 1 when anything failed."""
import sys
import unittest

import test_hyperlab_kernel


class Tally(unittest.TextTestResult):
    """Counts sub-tests one by one, so each is-complete/history variant is a check of its own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is None:
            self.passed += 1


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(test_hyperlab_kernel)
    result = unittest.TextTestRunner(verbosity=2, resultclass=Tally, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"jupyter_kernel_test: {result.passed} passed, {failed} failed, {len(result.skipped)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
