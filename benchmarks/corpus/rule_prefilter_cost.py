"""CPU of the prefilter and the check of a few rules alone over a fixed seeded sample of the corpus.

For each file: ``engine.prefilter`` (tokens, then ``could_match`` on Python's ast) for the named rules; for the
files some rule passes, LibCST's parse and ``engine.lint`` of the rules that passed. Prints how many files pass
each rule, the process CPU of prefilter, parse and check, and the number of findings; ``--json`` writes the
findings (path, code, line, fix applicability) for comparing two trees.

Compare two trees by running it under each (``PYTHONPATH=<tree>``), alternating, on the same sample:
``PYTHONPATH=$PWD python benchmarks/corpus/rule_prefilter_cost.py --codes PFL102,PFL106 --sample 1000``
(``--sample 0``: every file of the corpus).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import libcst as cst

from perflint import engine
from perflint.registry import rule_by_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="corpus/src")
    parser.add_argument("--codes", default="PFL102,PFL106")
    parser.add_argument("--sample", type=int, default=1000, help="files drawn with seed 15; 0 for all")
    parser.add_argument("--json", help="write the findings here")
    args = parser.parse_args()
    files = sorted(str(path) for path in Path(args.corpus).rglob("*.py"))
    random.Random(15).shuffle(files)
    sample = files[: args.sample] if args.sample else files
    rules = [rule_by_code(code) for code in args.codes.split(",")]
    passing = {rule.code: 0 for rule in rules}
    findings: list[list[object]] = []
    prefilter = parse = check = 0.0
    for path in sample:
        source = Path(path).read_bytes()
        start = time.process_time()
        kept = engine.prefilter(source, rules)
        prefilter += time.process_time() - start
        for rule in kept.rules:
            passing[rule.code] += 1
        if not kept.rules:
            continue
        start = time.process_time()
        try:
            module = cst.parse_module(source)
        except cst.ParserSyntaxError:
            continue
        parse += time.process_time() - start
        start = time.process_time()
        outcome = engine.lint(module, kept.rules, path, {}, tree=kept.tree)
        check += time.process_time() - start
        for finding in outcome.findings:
            fix = finding.rewrite.applicability.value if finding.rewrite is not None else None
            findings.append([path, finding.code, finding.range.start.line, fix])
    print(
        f"{len(sample)} files; passing {passing}; CPU prefilter {prefilter:.2f}s, LibCST parse {parse:.2f}s, "
        f"check {check:.2f}s, total {prefilter + parse + check:.2f}s; {len(findings)} findings"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(findings, indent=0))


if __name__ == "__main__":
    main()
