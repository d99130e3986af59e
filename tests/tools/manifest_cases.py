"""The driver both numpy checkers share (check_gguf.py, check_gptq_packed.py): read
DIR/manifest.json that test_export wrote, check every case, print one line per case
and its first problems, and return the CTest exit code (0 all passed, 1 a mismatch,
2 usage, 77 skipped: test_export wrote nothing)."""
import json
import os
import sys


def run(tool, usage, what, check_case):
    """check_case(dir, case) -> (problems, summary line for the case)."""
    if len(sys.argv) != 2:
        print(usage)
        return 2
    d = sys.argv[1]
    manifest = os.path.join(d, "manifest.json")
    if not os.path.exists(manifest):
        print(f"{tool}: {manifest} does not exist (test_export wrote no {what}); skipped")
        return 77
    cases = json.load(open(manifest))["cases"]
    failed = 0
    for case in cases:
        problems, line = check_case(d, case)
        print(line.replace("{status}", "ok" if not problems else "MISMATCH"))
        for p in problems[:20]:
            print("   ", p)
        failed += bool(problems)
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0
